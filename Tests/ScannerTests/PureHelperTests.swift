import CLibbpf
import Testing

@testable import DmabufScanner

@Suite struct KernelProbeParsingTests {
    @Test func activeLockdownModeIsTheBracketedWord() {
        #expect(KernelProbe.activeLockdownMode(in: "[none] integrity confidentiality\n") == "none")
        #expect(KernelProbe.activeLockdownMode(in: "none integrity [confidentiality]\n") == "confidentiality")
        #expect(KernelProbe.activeLockdownMode(in: "") == nil)
    }

    @Test func effectiveCapabilitiesComeFromCapEff() {
        let status = "Name:\tdmabufd\nCapInh:\t0000000000000000\nCapEff:\t000000c000000000\nCapBnd:\t000001ffffffffff\n"
        let caps = KernelProbe.effectiveCapabilities(inStatus: status)
        #expect(caps == KernelProbe.perfmonBit | KernelProbe.bpfBit)
        #expect(KernelProbe.effectiveCapabilities(inStatus: "Name:\tx\n") == nil)
    }

    @Test func loadingNeedsBPFAndPerfmonOrSysAdmin() {
        #expect(KernelProbe.allowsBPF(effectiveCapabilities: KernelProbe.bpfBit | KernelProbe.perfmonBit))
        #expect(KernelProbe.allowsBPF(effectiveCapabilities: KernelProbe.sysAdminBit))
        #expect(KernelProbe.allowsBPF(effectiveCapabilities: 0x1ff_ffff_ffff))
        #expect(!KernelProbe.allowsBPF(effectiveCapabilities: KernelProbe.bpfBit))
        #expect(!KernelProbe.allowsBPF(effectiveCapabilities: KernelProbe.perfmonBit))
        #expect(!KernelProbe.allowsBPF(effectiveCapabilities: 0))
    }
}

@Suite struct LibbpfLogTests {
    @Test func picksTheVerifierVerdictOverStatistics() {
        let lines = [
            "libbpf: prog 'dmabufd_pass': BPF program load failed: Permission denied",
            "libbpf: prog 'dmabufd_pass': -- BEGIN PROG LOAD LOG --",
            "0: R1=ctx() R10=fp0",
            "R1 pointer arithmetic with it prohibited for !root",
            "processed 12 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 1",
            "-- END PROG LOAD LOG --",
            "libbpf: prog 'dmabufd_pass': failed to load: -13",
            "libbpf: failed to load object 'dmabufd'",
        ]
        #expect(LibbpfLog.meaningfulLine(in: lines) == "R1 pointer arithmetic with it prohibited for !root")
    }

    @Test func aVerdictWithoutNewlineSharesTheEndMarkersLine() {
        let lines = ["-- BEGIN PROG LOAD LOG --", "invalid func unknown#0-- END PROG LOAD LOG --"]
        #expect(LibbpfLog.meaningfulLine(in: lines) == "invalid func unknown#0")
    }

    @Test func withoutAVerifierLogTakesTheLastSpecificLine() {
        let lines = ["libbpf: map 'stats': failed to create: Invalid argument(-22)", "libbpf: failed to load object 'dmabufd'"]
        #expect(LibbpfLog.meaningfulLine(in: lines) == "map 'stats': failed to create: Invalid argument(-22)")
        #expect(LibbpfLog.meaningfulLine(in: []) == nil)
    }
}

@Suite struct RecordLayoutTests {
    @Test func aRecordsNamesStopAtTheFirstNUL() {
        var raw = dmabufd_record()
        raw.inode = 42
        raw.size = 4096
        withUnsafeMutableBytes(of: &raw.name) { $0.copyBytes(from: Array("camera".utf8)) }
        withUnsafeMutableBytes(of: &raw.exporter) { $0.copyBytes(from: Array("udmabuf".utf8)) }
        let record = BufferRecord(raw)
        #expect(record == BufferRecord(inode: 42, size: 4096, name: Array("camera".utf8), exporter: Array("udmabuf".utf8)))
    }

    @Test func anUnnamedBufferHasAnEmptyName() {
        #expect(BufferRecord(dmabufd_record()).name.isEmpty)
    }

    @Test func theMapKeyIsTheNameZeroPaddedTo32Bytes() {
        let key = WatchMaps.key(Array("gpu".utf8))
        #expect(key.count == 32)
        #expect(Array(key.prefix(3)) == Array("gpu".utf8))
        #expect(key.dropFirst(3).allSatisfy { $0 == 0 })
    }

    @Test func theEmbeddedObjectIsABPFELF() {
        #expect(Array(dmabufdBPFObject.prefix(4)) == [0x7f, 0x45, 0x4c, 0x46])
        // e_machine (offset 18, little-endian) is EM_BPF = 247.
        #expect(dmabufdBPFObject[18] == 247 && dmabufdBPFObject[19] == 0)
        // DWARF stripped: well under the unstripped size that makes Swift compile slowly.
        #expect(dmabufdBPFObject.count < 64 * 1024)
    }
}

@Suite struct ScannerErrorTests {
    @Test func descriptionsNameTheFix() {
        #expect(
            ScannerError.iteratorMissing(kernelRelease: "6.12.0").description
                == "kernel 6.12.0 has no DMA-BUF iterator (bpf_iter_dmabuf_new); dmabufd needs Linux 6.16 or newer")
        #expect(
            ScannerError.missingPrivileges.description
                == "loading the BPF program needs CAP_BPF and CAP_PERFMON (run dmabufd as root)")
        #expect(ScannerError.noKernelBTF.description.contains("/sys/kernel/btf/vmlinux"))
        #expect(ScannerError.noKernelBTF.description.contains("CONFIG_DEBUG_INFO_BTF"))
        #expect(ScannerError.lockdown(mode: "confidentiality").description.contains("/sys/kernel/security/lockdown"))
        #expect(!ScannerError.capacityExhausted(capacity: 5).description.contains("\n"))
    }
}
