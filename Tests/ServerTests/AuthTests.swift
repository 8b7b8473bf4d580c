import Testing

@testable import Server

@Suite struct AuthTests {
    @Test func bearerTokenParsing() {
        #expect(APIKeyInterceptor.bearerToken("Bearer abc") == "abc")
        #expect(APIKeyInterceptor.bearerToken("bearer   abc") == "abc")
        #expect(APIKeyInterceptor.bearerToken("Basic abc") == nil)
        #expect(APIKeyInterceptor.bearerToken("Bearer") == nil)
        #expect(APIKeyInterceptor.bearerToken("abc") == nil)
    }

    @Test func keyComparison() {
        let key = Array("s3cret".utf8)
        #expect(APIKeyInterceptor.constantTimeEqual(Array("s3cret".utf8), key))
        #expect(!APIKeyInterceptor.constantTimeEqual(Array("s3cre".utf8), key))
        #expect(!APIKeyInterceptor.constantTimeEqual(Array("s3cret!".utf8), key))
        #expect(!APIKeyInterceptor.constantTimeEqual(Array("S3cret".utf8), key))
        #expect(!APIKeyInterceptor.constantTimeEqual([], key))
    }
}
