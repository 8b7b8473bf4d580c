import Dispatch
import Foundation
import Synchronization

/// What a long command says when SIGINT or SIGTERM stops it. Every write of index, import and
/// repartition is one committed LMDB transaction (one that is under way is rolled back by the
/// process ending), so stopping at once loses nothing; the user is told what the store kept
/// and how to go on, instead of seeing a progress line and a shell prompt.
final class Interruption {
    /// Read by the signal handler's queue, written by the command's thread.
    private final class Message: Sendable {
        let text: Mutex<String>
        init(_ text: String) { self.text = Mutex(text) }
    }

    private let message: Message
    private let sources: [any DispatchSourceSignal]

    /// Until this is released, SIGINT and SIGTERM print `stopped by SIG...: <message>` and end
    /// the process with 128 + the signal's number.
    init(command: String, message: String) {
        let current = Message(message)
        self.message = current
        sources = [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")].map { signal, name in
            Foundation.signal(signal, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signal, queue: .global())
            source.setEventHandler {
                let text = current.text.withLock { $0 }
                FileHandle.standardError.write(Data("\n\(command): stopped by \(name): \(text)\n".utf8))
                _exit(128 + signal)
            }
            source.resume()
            return source
        }
    }

    /// What the store holds now, as the signal's message will say it.
    func update(_ message: String) {
        self.message.text.withLock { $0 = message }
    }

    deinit {
        for source in sources { source.cancel() }
        Foundation.signal(SIGINT, SIG_DFL)
        Foundation.signal(SIGTERM, SIG_DFL)
    }
}
