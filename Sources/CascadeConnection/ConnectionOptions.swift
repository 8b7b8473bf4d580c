import ArgumentParser
import CascadeWire
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Glibc
import W3CTraceContext

/// How a client command reaches a Cascade server: TLS and the API key. The one set of these flags
/// for `cascade query`, `cascade eval --server` and cascade-bench, so that each speaks to every
/// server the others can.
public struct ConnectionOptions: ParsableArguments, Sendable {
    @Option(help: "The server's API key, sent as `authorization: Bearer <key>`.")
    public var apiKey: String?

    @Flag(help: "Connect with TLS (trusting the system's roots, or --ca-cert).")
    public var tls = false

    @Option(help: "A PEM file of the certificates to trust for the server's (implies --tls; for a private CA).")
    public var caCert: String?

    public init() {}

    public func validate() throws {
        // The transport would say only "failedToLoadCertificate", at the first call.
        if let caCert, !FileManager.default.isReadableFile(atPath: caCert) {
            throw ValidationError("--ca-cert \(caCert): no such readable file")
        }
    }

    /// Whether any of these flags was given (for commands where they need a server to apply to).
    public var isSet: Bool { apiKey != nil || tls || caCert != nil }

    var transportSecurity: HTTP2ClientTransport.Posix.TransportSecurity {
        guard tls || caCert != nil else { return .plaintext }
        let caCert = caCert
        return .tls { config in
            if let caCert { config.trustRoots = .certificates([.file(path: caCert, format: .pem)]) }
        }
    }

    /// A transport to `address` with these settings.
    public func transport(
        to address: ServerAddress, config: HTTP2ClientTransport.Posix.Config = .defaults
    ) throws -> HTTP2ClientTransport.Posix {
        try HTTP2ClientTransport.Posix(
            target: address.resolvableTarget, transportSecurity: transportSecurity, config: config)
    }

    /// What every call sends: the API key, and the caller's trace when it has one.
    public func metadata(traceparent: String? = nil) -> Metadata {
        var metadata: Metadata = [:]
        if let apiKey { metadata.addString("Bearer \(apiKey)", forKey: "authorization") }
        if let traceparent { metadata.addString(traceparent, forKey: "traceparent") }
        return metadata
    }

    /// `--traceparent`'s check, the same in every client.
    public static func validate(traceparent: String?) throws {
        if let traceparent, (try? TraceContext(traceParentHeaderValue: traceparent)) == nil {
            throw ValidationError(
                "--traceparent must be a W3C traceparent, 00-<32 hex>-<16 hex>-<2 hex> (got \(traceparent))")
        }
    }
}

extension ServerAddress {
    /// IP literals get targets of their own: through DNS an address would also become the TLS
    /// server name (SNI), which may not be an IP address, and every TLS connection would fail.
    public var resolvableTarget: any ResolvableTarget {
        if isIPv6 { return .ipv6(address: host, port: port) }
        var ipv4 = in_addr()
        if inet_pton(AF_INET, host, &ipv4) == 1 { return .ipv4(address: host, port: port) }
        return .dns(host: host, port: port)
    }

    /// Parses a command's address flag, with ArgumentParser's error so that the usage is printed.
    public init(validating text: String, flag: String) throws {
        do {
            try self.init(parsing: text, flag: flag)
        } catch {
            throw ValidationError(error.message)
        }
    }
}
