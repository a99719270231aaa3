/**
 * The meter key a TLS client certificate carries. The TLS handshake already proved that
 * the client holds the certificate's private key (TLS 1.3 CertificateVerify, RFC 8446
 * §4.4.3), so a self-signed certificate whose public key equals the meter's registered
 * key authenticates the meter; no CA is needed.
 */
import { TLSSocket } from 'node:tls';
import type { X509Certificate } from 'node:crypto';
import { Alg, p256Uncompressed } from '../../protocols/keys.js';
import { equalBytes } from '../../protocols/bytes.js';

export interface PeerIdentity {
  /** The certificate's public key in the raw form protocols/keys.ts uses, if Ed25519 or P-256. */
  readonly key?: { readonly alg: Alg; readonly publicKey: Uint8Array };
  readonly commonName?: string;
}

/** The client certificate's identity, or undefined when the connection has none (not TLS, or no cert). */
export function peerIdentityOf(conn: unknown): PeerIdentity | undefined {
  if (!(conn instanceof TLSSocket)) return undefined;
  const cert = conn.getPeerX509Certificate();
  return cert ? identityOfCertificate(cert) : undefined;
}

export function identityOfCertificate(cert: X509Certificate): PeerIdentity {
  const cn = /^CN=(.+)$/m.exec(cert.subject)?.[1];
  const jwk = cert.publicKey.export({ format: 'jwk' });
  let key: PeerIdentity['key'];
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519' && jwk.x) {
    key = { alg: Alg.EdDSA, publicKey: new Uint8Array(Buffer.from(jwk.x, 'base64url')) };
  } else if (jwk.kty === 'EC' && jwk.crv === 'P-256' && jwk.x && jwk.y) {
    // SEC1 uncompressed point: 0x04 || x || y.
    const x = Buffer.from(jwk.x, 'base64url');
    const y = Buffer.from(jwk.y, 'base64url');
    key = { alg: Alg.ES256, publicKey: new Uint8Array(Buffer.concat([Buffer.of(4), x, y])) };
  }
  return { ...(key ? { key } : {}), ...(cn !== undefined ? { commonName: cn } : {}) };
}

/** Whether the certificate key is the registered key (P-256 compared uncompressed). */
export function sameKey(peer: PeerIdentity['key'], alg: Alg, registered: Uint8Array): boolean {
  if (!peer || peer.alg !== alg) return false;
  if (alg === Alg.EdDSA) return equalBytes(peer.publicKey, registered);
  try {
    return equalBytes(peer.publicKey, p256Uncompressed(registered));
  } catch {
    return false;
  }
}
