// Compiles <package>/bpf/dmabufd.bpf.c for the BPF target and embeds the
// object in the DmabufScanner module as `let dmabufdBPFObject: [UInt8]`.
//
// One build command, BPFEmbedder, runs clang -target bpf, strips DWARF with
// llvm-objcopy and writes DmabufdBPFObject.swift: its only declared output, since
// SwiftPM would bundle any other output (an object file) as a resource.
import Foundation
import PackagePlugin

@main
struct BPFObjectPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let bpfDir = context.package.directoryURL.appending(path: "bpf")
        let source = bpfDir.appending(path: "dmabufd.bpf.c")
        let swiftFile = context.pluginWorkDirectoryURL.appending(path: "DmabufdBPFObject.swift")

        // Every header and source under bpf/ is an input, so an edit to any rebuilds.
        let bpfInputs = try FileManager.default.contentsOfDirectory(atPath: bpfDir.path)
            .filter { $0.hasSuffix(".h") || $0.hasSuffix(".c") }
            .sorted()
            .map { bpfDir.appending(path: $0) }

        return [
            .buildCommand(
                displayName: "Compiling and embedding BPF program dmabufd.bpf.c for \(Self.architecture)",
                executable: try context.tool(named: "BPFEmbedder").url,
                arguments: [
                    Self.architecture,
                    // The toolchain's own, else the first on PATH: SwiftPM looks in both.
                    try context.tool(named: "clang").url.path,
                    try context.tool(named: "llvm-objcopy").url.path,
                    source.path, swiftFile.path, "dmabufdBPFObject",
                ],
                inputFiles: bpfInputs,
                outputFiles: [swiftFile])
        ]
    }

    /// The architecture dmabufd is built for. SwiftPM 6.3 tells a build-tool plugin no
    /// target triple, and builds the plugin for the machine that builds: the same
    /// architecture in every native build. A cross build names its target in
    /// DMABUFD_BPF_ARCH (x86_64 or arm64).
    static var architecture: String {
        if let named = ProcessInfo.processInfo.environment["DMABUFD_BPF_ARCH"], !named.isEmpty { return named }
        #if arch(arm64)
        return "arm64"
        #else
        return "x86_64"
        #endif
    }
}
