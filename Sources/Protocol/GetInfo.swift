/// `org.varlink.service.GetInfo() -> (vendor, product, version, url, interfaces)`.
/// It takes no parameters: read them with `NoParameters`.
public struct GetInfoReply: MessageParameters {
    public var vendor: String
    public var product: String
    public var version: String
    public var url: String
    /// Every interface the service provides, `org.varlink.service` included.
    public var interfaces: [String]

    public init(vendor: String, product: String, version: String, url: String, interfaces: [String]) {
        self.vendor = vendor
        self.product = product
        self.version = version
        self.url = url
        self.interfaces = interfaces
    }

    /// Reads a reply's parameters; fields it does not know are ignored.
    public init(parameters: [String: JSON]) throws(VarlinkError) {
        let reader = try ParameterReader(parameters, allowing: nil)
        self.init(
            vendor: try reader.string("vendor"), product: try reader.string("product"),
            version: try reader.string("version"), url: try reader.string("url"),
            interfaces: try reader.strings("interfaces"))
    }

    public var parameters: [String: JSON] {
        [
            "vendor": .string(vendor), "product": .string(product), "version": .string(version),
            "url": .string(url), "interfaces": .array(interfaces.map(JSON.string)),
        ]
    }
}
