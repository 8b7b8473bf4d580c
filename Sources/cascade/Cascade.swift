import ArgumentParser

@main
struct CascadeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cascade",
        abstract: "Retrieve-then-rerank neural search.",
        subcommands: [
            TokenizeCommand.self, EmbedCommand.self, ScoreCommand.self,
            IndexCommand.self, SearchCommand.self, StatsCommand.self, EvalCommand.self, TuneCommand.self,
            ServeCommand.self, QueryCommand.self, ImportCommand.self, RepartitionCommand.self,
            CalibrateCommand.self,
        ]
    )
}
