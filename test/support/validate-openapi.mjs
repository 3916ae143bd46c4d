// Validates the OpenAPI document on stdin; prints the validator's result as JSON. A separate
// process because the validator is an ES module, which Jest's CommonJS runtime cannot load.
import { Validator } from '@seriousme/openapi-schema-validator';

let input = '';
for await (const chunk of process.stdin) input += chunk;
const validator = new Validator();
const result = await validator.validate(JSON.parse(input));
process.stdout.write(JSON.stringify({ ...result, version: validator.version }));
