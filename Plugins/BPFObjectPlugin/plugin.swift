// Compiles <package>/bpf/dmabufd.bpf.c for the BPF target and embeds the
// object in the DmabufScanner module as `let dmabufdBPFObject: [UInt8]`.
//
// Three build commands chained by their outputs:
//   clang -target bpf        bpf/dmabufd.bpf.c -> dmabufd.bpf.o
//   llvm-objcopy --strip-debug                 -> dmabufd.stripped.o (DWARF out, BTF kept:
//                              a 33 KB literal compiles in seconds, a 647 KB one takes minutes)
//   BPFEmbedder                                -> DmabufdBPFObject.swift
import Foundation
import PackagePlugin

@main
struct BPFObjectPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let bpfDir = context.package.directoryURL.appending(path: "bpf")
        let source = bpfDir.appending(path: "dmabufd.bpf.c")
        let work = context.pluginWorkDirectoryURL
        let object = work.appending(path: "dmabufd.bpf.o")
        let stripped = work.appending(path: "dmabufd.stripped.o")
        let swiftFile = work.appending(path: "DmabufdBPFObject.swift")

        // Every header and source under bpf/ is an input, so an edit to any rebuilds.
        let bpfInputs = try FileManager.default.contentsOfDirectory(atPath: bpfDir.path)
            .filter { $0.hasSuffix(".h") || $0.hasSuffix(".c") }
            .sorted()
            .map { bpfDir.appending(path: $0) }

        return [
            .buildCommand(
                displayName: "Compiling BPF program dmabufd.bpf.c",
                executable: try context.tool(named: "clang").url,
                arguments: [
                    "-g", "-O2", "-Wall", "-target", "bpf", "-D__TARGET_ARCH_x86",
                    "-I", bpfDir.path,
                    // The UAPI headers need asm/types.h from the multiarch directory.
                    "-idirafter", "/usr/include/x86_64-linux-gnu",
                    "-idirafter", "/usr/include",
                    "-c", source.path, "-o", object.path,
                ],
                inputFiles: bpfInputs,
                outputFiles: [object]),
            .buildCommand(
                displayName: "Stripping DWARF from dmabufd.bpf.o",
                executable: objcopy(context),
                arguments: ["--strip-debug", object.path, stripped.path],
                inputFiles: [object],
                outputFiles: [stripped]),
            .buildCommand(
                displayName: "Embedding dmabufd.bpf.o as Swift bytes",
                executable: try context.tool(named: "BPFEmbedder").url,
                arguments: [stripped.path, swiftFile.path, "dmabufdBPFObject"],
                inputFiles: [stripped],
                outputFiles: [swiftFile]),
        ]
    }

    /// The toolchain's llvm-objcopy; SwiftPM may not list it as a tool, so fall back to its path.
    private func objcopy(_ context: PluginContext) -> URL {
        if let tool = try? context.tool(named: "llvm-objcopy") { return tool.url }
        return URL(filePath: "/opt/swift/usr/bin/llvm-objcopy")
    }
}
