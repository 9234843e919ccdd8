import CLibbpf
import DmabufSystem

/// One line for a libbpf or kernel error code: negative or positive errno,
/// or libbpf's own codes (4000+), which strerror does not know.
func libbpfErrorText(_ code: Int32) -> String {
    var buffer = [CChar](repeating: 0, count: 128)
    _ = buffer.withUnsafeMutableBufferPointer { libbpf_strerror(code, $0.baseAddress, $0.count) }
    let text = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    return "\(text) (\(abs(code)))"
}
