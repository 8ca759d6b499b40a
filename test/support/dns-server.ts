import dgram from 'node:dgram';
import dnsPacket, { type Answer } from 'dns-packet';

export interface Zone {
  [name: string]: { A?: string[]; AAAA?: string[]; CNAME?: string; ttl?: number };
}

/**
 * A small authoritative-and-recursive-looking DNS server on loopback UDP: it answers A and AAAA from a zone it is
 * given, following CNAMEs inside the zone and returning the whole chain, as a recursive resolver would. Used to
 * test the real resolver path, including private-endpoint (split-horizon) answers.
 */
export class TestDnsServer {
  private readonly socket = dgram.createSocket('udp4');
  queries = 0;
  failing = false;

  constructor(public zone: Zone) {}

  async start(): Promise<string> {
    this.socket.on('message', (msg, rinfo) => {
      this.queries++;
      const query = dnsPacket.decode(msg);
      const question = query.questions?.[0];
      if (!question || this.failing) {
        const response = dnsPacket.encode({
          id: query.id,
          type: 'response',
          flags: 2 /* SERVFAIL */,
          questions: query.questions ?? [],
        });
        this.socket.send(response, rinfo.port, rinfo.address);
        return;
      }
      const answers: Answer[] = [];
      let name = question.name.toLowerCase();
      let rcode = 0;
      for (let hops = 0; hops < 8; hops++) {
        const record = this.zone[name];
        if (!record) {
          if (hops === 0) rcode = 3; // NXDOMAIN
          break;
        }
        const ttl = record.ttl ?? 300;
        if (record.CNAME) {
          answers.push({ type: 'CNAME', name, ttl, data: record.CNAME });
          name = record.CNAME;
          continue;
        }
        const type = question.type === 'AAAA' ? 'AAAA' : 'A';
        for (const data of record[type] ?? []) answers.push({ type, name, ttl, data });
        break;
      }
      const response = dnsPacket.encode({
        id: query.id,
        type: 'response',
        flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | rcode,
        questions: query.questions,
        answers,
      });
      this.socket.send(response, rinfo.port, rinfo.address);
    });
    await new Promise<void>((resolve) => this.socket.bind(0, '127.0.0.1', resolve));
    return `127.0.0.1:${this.socket.address().port}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
