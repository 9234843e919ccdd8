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
        let work = context.pluginWorkDirectoryURL
        let swiftFile = work.appending(path: "DmabufdBPFObject.swift")

        // Every header and source under bpf/ is an input, so an edit to any rebuilds.
        let bpfInputs = try FileManager.default.contentsOfDirectory(atPath: bpfDir.path)
            .filter { $0.hasSuffix(".h") || $0.hasSuffix(".c") }
            .sorted()
            .map { bpfDir.appending(path: $0) }

        let clangArguments = [
            "-g", "-O2", "-Wall", "-target", "bpf", "-D__TARGET_ARCH_x86",
            "-I", bpfDir.path,
            // The UAPI headers need asm/types.h from the multiarch directory.
            "-idirafter", "/usr/include/x86_64-linux-gnu",
            "-idirafter", "/usr/include",
            "-c", source.path,
        ]
        return [
            .buildCommand(
                displayName: "Compiling and embedding BPF program dmabufd.bpf.c",
                executable: try context.tool(named: "BPFEmbedder").url,
                arguments: [try context.tool(named: "clang").url.path, objcopy(context).path,
                            swiftFile.path, "dmabufdBPFObject", "--"] + clangArguments,
                inputFiles: bpfInputs,
                outputFiles: [swiftFile])
        ]
    }

    /// The toolchain's llvm-objcopy; SwiftPM may not list it as a tool, so fall back to its path.
    private func objcopy(_ context: PluginContext) -> URL {
        if let tool = try? context.tool(named: "llvm-objcopy") { return tool.url }
        return URL(filePath: "/opt/swift/usr/bin/llvm-objcopy")
    }
}
