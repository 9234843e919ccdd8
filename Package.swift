// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "dmabufd",
    products: [
        .executable(name: "dmabufd", targets: ["dmabufd"]),
        .executable(name: "dmabufctl", targets: ["dmabufctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        // C libraries, imported as they are; shim.h wraps only what Swift cannot call.
        .systemLibrary(
            name: "CJansson", path: "Sources/CJansson", pkgConfig: "jansson",
            providers: [.apt(["libjansson-dev"])]),
        .systemLibrary(
            name: "CLibbpf", path: "Sources/CLibbpf", pkgConfig: "libbpf",
            providers: [.apt(["libbpf-dev", "libelf-dev", "zlib1g-dev"])]),
        .systemLibrary(name: "CLinux", path: "Sources/CLinux"),

        // The C library and the few system calls every other module shares: errno as a value,
        // whole reads and writes, a Unix socket address. The one place that imports libc.
        .target(name: "DmabufSystem", path: "Sources/System"),

        // The wire protocol: framing, messages, the Monitor interface, name rules. No sockets, no BPF.
        .target(
            name: "DmabufProtocol", dependencies: ["CJansson"], path: "Sources/Protocol",
            resources: [.embedInCode("io.dmabufd.Monitor.varlink"), .embedInCode("org.varlink.service.varlink")]),

        // The BPF program's owner: load, run a pass, read its maps. Nothing else touches libbpf.
        .target(
            name: "DmabufScanner", dependencies: ["CLibbpf", "DmabufSystem"], path: "Sources/Scanner",
            plugins: ["BPFObjectPlugin"]),

        // Varlink over a Unix socket, for any interface: listener, connection limits, peer
        // credentials, framing, dispatch, reply streams. Nothing about BPF or io.dmabufd.Monitor.
        .target(
            name: "VarlinkServer",
            dependencies: [
                "DmabufProtocol", "DmabufSystem",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/VarlinkServer"),

        // The daemon: the monitor (registry, passes, subscriptions), the Monitor interface,
        // policy, metrics, privileged start-up and shutdown.
        .target(
            name: "DmabufService",
            dependencies: [
                "DmabufProtocol", "DmabufScanner", "DmabufSystem", "VarlinkServer", "CLinux",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/Service"),
        .executableTarget(name: "dmabufd", dependencies: ["DmabufService"], path: "Sources/dmabufd"),

        // The client library every Swift client of ours uses: connect, call, stream.
        .target(name: "DmabufClient", dependencies: ["DmabufProtocol", "DmabufSystem"], path: "Sources/Client"),
        .executableTarget(
            name: "dmabufctl",
            dependencies: [
                "DmabufClient", "DmabufSystem", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/ClientCLI"),

        // `make bench`: the bare BPF pass, timed. Not a product: never installed.
        .executableTarget(
            name: "dmabufd-passbench",
            dependencies: ["DmabufScanner", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/PassBench"),

        // `make test`: org.varlink.certification served by dmabufd's own dispatcher and socket
        // server, and its sequence run by dmabufctl's client library. No BPF: it does not link
        // DmabufService or libbpf. Not a product: never installed.
        .executableTarget(
            name: "varlink-certification",
            dependencies: [
                "VarlinkServer", "DmabufClient", "DmabufProtocol",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/Certification", resources: [.embedInCode("org.varlink.certification.varlink")]),

        // Build-time: compiles bpf/*.bpf.c and embeds the stripped object as Swift bytes.
        .executableTarget(name: "BPFEmbedder", dependencies: ["DmabufSystem"], path: "Plugins/BPFEmbedder"),
        .plugin(
            name: "BPFObjectPlugin", capability: .buildTool(), dependencies: ["BPFEmbedder"],
            path: "Plugins/BPFObjectPlugin"),

        .testTarget(
            name: "ProtocolTests", dependencies: ["DmabufProtocol", "DmabufClient", "DmabufSystem"], path: "Tests/ProtocolTests"),
        .testTarget(name: "ScannerTests", dependencies: ["DmabufScanner", "DmabufSystem"], path: "Tests/ScannerTests"),
        .testTarget(
            name: "ServiceTests", dependencies: ["DmabufService", "VarlinkServer", "DmabufClient", "DmabufSystem"], path: "Tests/ServiceTests"),
        .testTarget(
            name: "VarlinkServerTests",
            dependencies: ["VarlinkServer", "DmabufProtocol", .product(name: "NIOEmbedded", package: "swift-nio")],
            path: "Tests/VarlinkServerTests"),
    ]
)
