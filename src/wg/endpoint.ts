/**
 * A UDP endpoint as WireGuard sees it: a numeric IPv4 or IPv6 address (text) and a port. The one
 * endpoint type of src/wg: the protocol core's sources and destinations, the data plane's
 * arguments and messages, and the UAPI's parsed value (UapiEndpoint implements it).
 */
export interface Endpoint {
  readonly address: string;
  readonly port: number;
}
