/// The release of dmabufd and dmabufctl: one number, so the service's `GetInfo`/`Status`
/// and the CLI's `--version` cannot disagree.
public enum ProductVersion {
    public static let string = "0.1.0"
}
