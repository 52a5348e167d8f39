import { BlockList, isIPv4 } from 'node:net';

/**
 * ALLOWED_ORIGINS entries are exact origins (`http://localhost:3000`) or a scheme plus an IPv4
 * CIDR (`http://192.168.1.0/24`), which admits that scheme from any host in the range, any port.
 * Used by CORS and by the socket.io handshake alike.
 */
export class OriginPolicy {
  private readonly exact = new Set<string>();
  private readonly ranges: Array<{ protocol: string; block: BlockList }> = [];

  constructor(entries: string[]) {
    for (const entry of entries) {
      const cidr = /^(https?):\/\/(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(entry);
      if (cidr && isIPv4(cidr[2])) {
        const block = new BlockList();
        block.addSubnet(cidr[2], Number(cidr[3]), 'ipv4');
        this.ranges.push({ protocol: `${cidr[1]}:`, block });
      } else {
        this.exact.add(normalise(entry) ?? entry);
      }
    }
  }

  /** Requests without an Origin header (agents, curl) are not browser requests: allowed. */
  allows(origin: string | undefined): boolean {
    if (origin === undefined || origin === '') return true;
    const normalised = normalise(origin);
    if (!normalised) return false;
    if (this.exact.has(normalised)) return true;
    const url = new URL(normalised);
    return (
      isIPv4(url.hostname) &&
      this.ranges.some((r) => r.protocol === url.protocol && r.block.check(url.hostname, 'ipv4'))
    );
  }
}

function normalise(origin: string): string | undefined {
  try {
    const url = new URL(origin);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
    return url.origin;
  } catch {
    return undefined;
  }
}
