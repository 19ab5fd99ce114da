/**
 * Checks an HTTP response against the OpenAPI document the server serves (src/http/openapi.ts):
 * the operation must exist (or the answer be a 404/405/401 error for a path or method it lacks),
 * the status must be documented, and a JSON body must match its schema. helpers/http.ts calls it
 * on every response, so every HTTP test also checks the document.
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { OPENAPI } from '../../src/http/openapi.js';

type Operation = { responses: Record<string, { content?: Record<string, { schema: unknown }> }> };

const ajv = new Ajv2020({ strict: true, allErrors: true });
(addFormats as unknown as (ajv: Ajv2020) => void)(ajv);
/** The document's `#/components/schemas/X` references, pointing at the schemas registered below. */
const resolved = (schema: unknown): object => JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', '"openapi#/$defs/')) as object;
ajv.addSchema({ $id: 'openapi', $defs: resolved(OPENAPI.components.schemas) });
const validators = new Map<string, ValidateFunction>();

function validatorFor(key: string, schema: unknown): ValidateFunction {
  let validate = validators.get(key);
  if (!validate) {
    validate = ajv.compile(resolved(schema));
    validators.set(key, validate);
  }
  return validate;
}

/** Compiles one of the document's component schemas (strict mode: unknown keywords are errors). */
export function compileComponent(name: string): ValidateFunction {
  return validatorFor(`component ${name}`, { $ref: `#/components/schemas/${name}` });
}

const PATHS = OPENAPI.paths as Record<string, Record<string, Operation>>;
/** Each templated path (`/control/sockets/{id}`) as a pattern of the paths it stands for. */
const TEMPLATES = Object.keys(PATHS)
  .filter((template) => template.includes('{'))
  .map((template) => ({ template, pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`) }));

/** The document's path item for a request path: its own, or a template's. */
function pathItem(path: string): Record<string, Operation> | undefined {
  return PATHS[path] ?? PATHS[TEMPLATES.find(({ pattern }) => pattern.test(path))?.template ?? ''];
}

/** Why the response does not match the document, or undefined when it does. */
export function openApiMismatch(method: string, url: string, status: number, contentType: string | null, body: unknown): string | undefined {
  const path = new URL(url).pathname;
  const item = pathItem(path);
  const operation = item?.[method.toLowerCase()];
  const mediaType = (contentType ?? '').split(';')[0]!.trim();
  const isJson = mediaType === 'application/vnd.api+json' || mediaType === 'application/json';
  if (!operation) {
    // a path or method the document lacks: only an error may answer (a page's asset is not the API's)
    if (!isJson) return undefined;
    if (![401, 403, 404, 405, 413, 415, 400].includes(status)) return `${method} ${path} is not in the OpenAPI document, yet answered ${status}`;
    return check(`error`, { $ref: '#/components/schemas/ErrorDocument' }, body, `${method} ${path} ${status}`);
  }
  const response = operation.responses[String(status)] ?? operation.responses.default;
  if (!response) return `${method} ${path} answered ${status}, which the OpenAPI document does not list`;
  if (!response.content) return undefined;
  const media = response.content[mediaType];
  if (!media) return `${method} ${path} ${status} answered ${mediaType || 'no content type'}, the document says ${Object.keys(response.content).join(' or ')}`;
  if (!isJson) return undefined;
  return check(`${method} ${path} ${String(status) in operation.responses ? status : 'default'}`, media.schema, body, `${method} ${path} ${status}`);
}

function check(key: string, schema: unknown, body: unknown, what: string): string | undefined {
  const validate = validatorFor(key, schema);
  if (validate(body)) return undefined;
  return `${what} does not match the OpenAPI document: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 500)}`;
}
