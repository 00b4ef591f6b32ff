import ArgumentParser

@main
struct KallsymsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kallsyms",
        abstract: "Kernel symbol tables: generate, link, diff, read.")
}
