import { createHash, createHmac } from 'node:crypto';

import { SCRAM_ITERATIONS, scramSha256Verifier } from './scram-verifier';

/** RFC 7677 §3's exchange: user "user", password "pencil", salt W22ZaJ0SNY7soEsUEjb6gQ==, 4096 iterations. */
const RFC = {
  password: 'pencil',
  salt: Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'),
  authMessage:
    'n=user,r=rOprNGfwEbeRWgbNEkqO,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
  serverSignature: '6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
  clientProof: 'dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
};

describe('SCRAM-SHA-256 verifier', () => {
  it('has PostgreSQL’s rolpassword form with its default 4096 iterations and a fresh salt each time', async () => {
    const [a, b] = await Promise.all([scramSha256Verifier('secret-1'), scramSha256Verifier('secret-1')]);
    expect(a).toMatch(/^SCRAM-SHA-256\$4096:[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain('secret-1');
    expect(SCRAM_ITERATIONS).toBe(4096);
  });

  it('verifies RFC 7677’s test exchange: the server signature from ServerKey and the client proof against StoredKey', async () => {
    const verifier = await scramSha256Verifier(RFC.password, { salt: RFC.salt });
    const [storedKey, serverKey] = verifier.split('$')[2]!.split(':');
    const stored = Buffer.from(storedKey!, 'base64');
    const server = Buffer.from(serverKey!, 'base64');
    expect(createHmac('sha256', server).update(RFC.authMessage).digest('base64')).toBe(RFC.serverSignature);
    // ClientKey = ClientProof XOR ClientSignature; SHA-256(ClientKey) must be StoredKey.
    const signature = createHmac('sha256', stored).update(RFC.authMessage).digest();
    const proof = Buffer.from(RFC.clientProof, 'base64');
    const clientKey = Buffer.from(proof.map((byte, index) => byte ^ signature[index]!));
    expect(createHash('sha256').update(clientKey).digest().equals(stored)).toBe(true);
  });

  it('refuses a password PostgreSQL would SASLprep differently', async () => {
    await expect(scramSha256Verifier('pässword')).rejects.toThrow(/printable ASCII/);
  });
});
