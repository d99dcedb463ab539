import { describe, expect, it } from 'vitest';
import { isPublicAddress } from '../../src/events/webhook-network.js';

// What webhook deliveries may connect to: public internet hosts only, whatever form the address takes.

describe('isPublicAddress', () => {
  it('accepts public IPv4 and IPv6 hosts, including public IPv4 carried in IPv6 (mapped, NAT64, 6to4)', () => {
    for (const address of ['8.8.8.8', '1.1.1.1', '93.184.215.14', '2606:4700:4700::1111', '::ffff:8.8.8.8', '::ffff:808:808', '64:ff9b::808:808', '2002:808:808::1', '[2606:4700:4700::1111]']) {
      expect(isPublicAddress(address), address).toBe(true);
    }
  });

  it('refuses loopback, private, link-local, CGNAT, multicast, unspecified, reserved and documentation space, in every form', () => {
    const refused = [
      '127.0.0.1', '127.255.255.254', '0.0.0.0', '0.1.2.3', '10.0.0.1', '172.16.0.1', '172.31.255.255', '192.168.0.1', '169.254.169.254',
      '100.64.0.1', '100.127.255.255', '192.0.0.8', '192.0.2.1', '198.18.0.1', '198.51.100.1', '203.0.113.1', '224.0.0.251', '239.255.255.250',
      '240.0.0.1', '255.255.255.255',
      '::', '::1', '::127.0.0.1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:10.0.0.1', '::ffff:a9fe:a9fe', '0:0:0:0:0:ffff:c0a8:0101',
      '64:ff9b::7f00:1', '64:ff9b:1::1', '2002:7f00:1::', '2002:a00:1::1', 'fc00::1', 'fd12:3456::1', 'fe80::1', 'fe80::1%eth0', 'febf::1', 'fec0::1',
      'ff02::1', '2001:db8::1', '2001::1', '100::1', '[::1]',
      'localhost', 'example.com', '', '1.2.3', '::ffff:1.2.3.4.5', '1::2::3',
    ];
    for (const address of refused) expect(isPublicAddress(address), address).toBe(false);
  });
});
