import DmabufService

@main
enum Entry {
    static func main() async {
        // Everything up to the first await runs on the main thread, the process's only
        // thread so far: privileges can be dropped for the whole process there.
        let command = DaemonCommand.parseOrExit()
        let prepared = command.prepareOrExit()
        await command.serve(prepared)
    }
}
