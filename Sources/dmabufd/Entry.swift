import DmabufService

@main
enum Entry {
    static func main() async {
        // Everything up to the first await runs on the main thread, the process's only
        // thread so far: privileges can be dropped for the whole process there.
        let options = DaemonCommand.parseOrExit()
        let prepared = PrivilegedStartup(options).prepareOrExit()
        await ServiceAssembly(options).serve(prepared)
    }
}
