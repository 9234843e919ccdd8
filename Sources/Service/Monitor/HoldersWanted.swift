/// Whether a request wants the holders walked right after its pass.
enum HoldersWanted: Sendable, Equatable {
    case no
    /// The request fails when the walk does (Processes, Scan with holders).
    case required
    /// The request takes the walk when the kernel can make it (a metrics scrape).
    case ifAvailable
}
