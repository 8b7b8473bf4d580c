import Foundation
import Testing

@testable import Transformer

/// The branch-free erf and exp against the C library's.
@Suite struct KernelTests {
    @Test func fastErfMatchesLibm() {
        var worst: Double = 0
        for i in -100_000...100_000 {
            let x = Float(i) * 6e-5  // [-6, 6]
            worst = max(worst, abs(Double(fastErf(x)) - erf(Double(x))))
        }
        #expect(worst < 5e-7, "max abs error \(worst)")
    }

    @Test func fastExpMatchesLibm() {
        var worst: Double = 0
        for i in -100_000...20_000 {
            let x = Float(i) * 8.7e-4  // [-87, 17.4]
            let exact = exp(Double(x))
            worst = max(worst, abs(Double(fastExp(x)) - exact) / exact)
        }
        #expect(worst < 5e-7, "max relative error \(worst)")
        #expect(fastExp(-200) < 1e-37)
    }
}
