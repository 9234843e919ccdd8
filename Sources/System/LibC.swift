// The C library, imported in this one place: every other module of the project gets it
// through `import DmabufSystem`, so no file chooses between Glibc and Musl on its own.
#if canImport(Glibc)
@_exported import Glibc
#elseif canImport(Musl)
@_exported import Musl
#else
#error("dmabufd runs on Linux: it needs Glibc or Musl")
#endif
