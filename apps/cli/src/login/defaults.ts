/** Where people sign in unless told otherwise: the local stack's OpenID Provider (tools/oidc-provider). */
export const DEFAULT_OPERATOR_ISSUER = 'https://127.0.0.1:5556';
/** The CLI's client id at the provider; also the audience of its ID tokens (ROTOR_OPERATOR_AUDIENCE). */
export const DEFAULT_CLIENT_ID = 'rotor-cli';
