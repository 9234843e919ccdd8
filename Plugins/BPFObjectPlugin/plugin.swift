// Compiles each <package>/bpf/NAME.bpf.c for the BPF target and embeds its object
// in the DmabufScanner module as `let NAMEBPFObject: [UInt8]` (dmabufd.bpf.c is
// `dmabufdBPFObject`, holders.bpf.c `holdersBPFObject`).
//
// One build command a program, BPFEmbedder, runs clang -target bpf, strips DWARF
// with llvm-objcopy and writes NAMEBPFObject.swift: its only declared output, since
// SwiftPM would bundle any other output (an object file) as a resource.
import Foundation
import PackagePlugin

@main
struct BPFObjectPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let bpfDir = context.package.directoryURL.appending(path: "bpf")
        let files = try FileManager.default.contentsOfDirectory(atPath: bpfDir.path).sorted()
        // Every header and source under bpf/ is an input of every program, so an edit to any rebuilds.
        let bpfInputs = files.filter { $0.hasSuffix(".h") || $0.hasSuffix(".c") }.map { bpfDir.appending(path: $0) }
        let embedder = try context.tool(named: "BPFEmbedder").url
        // The toolchain's own, else the first on PATH: SwiftPM looks in both.
        let clang = try context.tool(named: "clang").url.path
        let objcopy = try context.tool(named: "llvm-objcopy").url.path

        return files.filter { $0.hasSuffix(".bpf.c") }.map { file in
            let name = String(file.dropLast(".bpf.c".count))
            let swiftFile = context.pluginWorkDirectoryURL.appending(path: "\(name)BPFObject.swift")
            return .buildCommand(
                displayName: "Compiling and embedding BPF program \(file) for \(Self.architecture)",
                executable: embedder,
                arguments: [
                    Self.architecture, clang, objcopy, bpfDir.appending(path: file).path, swiftFile.path,
                    "\(name)BPFObject",
                ],
                inputFiles: bpfInputs,
                outputFiles: [swiftFile])
        }
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
