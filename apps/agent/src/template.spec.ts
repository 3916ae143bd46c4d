import { parseTemplate, render, renderTemplate, TemplateError } from './template';

const PG = { username: 'rotor_ab12', password: 'p@ss:w/rd?#%&=+ "x"', host: 'db.internal', port: '5432', database: 'orders' };

describe('agent templates', () => {
  it('renders a PostgreSQL URL with every part percent-encoded, which a URL parser reads back to the same values', () => {
    const url = render({ fields: PG, shape: 'postgres-url' });
    expect(url).toBe('postgres://rotor_ab12:p%40ss%3Aw%2Frd%3F%23%25%26%3D%2B%20%22x%22@db.internal:5432/orders');
    const parsed = new URL(url);
    expect(decodeURIComponent(parsed.password)).toBe(PG.password);
    expect(decodeURIComponent(parsed.username)).toBe(PG.username);
    expect(parsed.pathname).toBe('/orders');
  });

  it('renders a Redis URL (TLS) with encoded credentials', () => {
    expect(render({ fields: { username: 'rotor-1', password: 'a/b@c', host: '127.0.0.1', port: '6380' }, shape: 'redis-url' })).toBe(
      'rediss://rotor-1:a%2Fb%40c@127.0.0.1:6380',
    );
  });

  it('renders .env lines with upper-case names and values quoted so a shell expands nothing', () => {
    expect(render({ fields: { password: 'a"b$HOME`id`\\n', 'user-name': 'x' }, shape: 'env' })).toBe(
      'PASSWORD="a\\"b\\$HOME\\`id\\`\\\\n"\nUSER_NAME="x"\n',
    );
  });

  it('renders JSON with the fields sorted, and raw as one field', () => {
    expect(JSON.parse(render({ fields: { b: '2', a: '1' }, shape: 'json' }))).toEqual({ a: '1', b: '2' });
    expect(render({ fields: { token: 'tok' }, shape: 'raw' })).toBe('tok');
    expect(render({ fields: { username: 'u', password: 'p' }, shape: 'raw', field: 'username' })).toBe('u');
    expect(() => render({ fields: { a: '1', b: '2' }, shape: 'raw' })).toThrow(/name the field to write \(it has: a, b\)/);
  });

  it('substitutes fields in a text of its own, with the url and json filters', () => {
    expect(renderTemplate('DSN={{ username }}:{{password|url}} J={{password | json}}\n', { username: 'u', password: 'a b"' })).toBe(
      'DSN=u:a%20b%22 J="a b\\""\n',
    );
  });

  it('cannot execute anything: expressions, calls and lookups outside the fields are refused, not evaluated', () => {
    for (const text of [
      '{{ process.exit(1) }}',
      "{{ require('child_process') }}",
      '{{#each fields}}x{{/each}}',
      '{{ a + b }}',
      '{{ constructor.constructor }}',
      '${process.pid}{{ x | exec }}',
    ]) {
      expect(() => parseTemplate(text)).toThrow(TemplateError);
    }
    // A JavaScript template literal in the text stays text.
    expect(renderTemplate('${process.pid} {{a}}', { a: '1' })).toBe('${process.pid} 1');
    // Names that exist on every object are not fields.
    expect(() => renderTemplate('{{constructor}}', { a: '1' })).toThrow('the credential has no field "constructor" (it has: a)');
    expect(() => renderTemplate('{{__proto__}}', { a: '1' })).toThrow(TemplateError);
  });

  it('names a missing field and the fields there are, never a value', () => {
    const error = (() => {
      try {
        return render({ fields: { username: 'u', password: 'SECRET-VALUE' }, shape: 'postgres-url' });
      } catch (caught) {
        return caught as Error;
      }
    })() as Error;
    expect(error.message).toBe('template: the credential has no field "host" (it has: password, username)');
    expect(error.message).not.toContain('SECRET-VALUE');
  });

  it('refuses an unclosed placeholder and an unknown filter', () => {
    expect(() => parseTemplate('a {{ b')).toThrow('is never closed');
    expect(() => parseTemplate('{{ b | shell }}')).toThrow('unknown filter "shell"');
  });
});
