import DmabufService

// The daemon is the library's command; `@main` here picks its async entry point.
@main extension DaemonCommand {}
