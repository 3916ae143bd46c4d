/**
 * What a person's browser does at a sign-in page, scripted: keeps cookies, follows redirects,
 * and submits the page's form with its hidden fields plus what the person types. Enough for
 * the local OpenID Provider's device and code flows; not a general browser.
 */
export class ScriptedBrowser {
  /** Cookies by host, path and name (host-only: every page of the flows is on one origin). */
  private readonly cookies = new Map<string, { host: string; path: string; name: string; value: string }>();
  /** Where the last redirect chain ended (the loopback callback of a code flow, for instance). */
  lastUrl = '';

  async open(
    url: string,
    init: { method?: string; form?: Record<string, string> } = {},
  ): Promise<{ status: number; html: string; url: string }> {
    let next = url;
    let method = init.method ?? 'GET';
    let body: string | undefined = init.form ? new URLSearchParams(init.form).toString() : undefined;
    for (let hop = 0; hop < 20; hop++) {
      const response = await fetch(next, {
        method,
        redirect: 'manual',
        headers: {
          ...(this.cookieHeader(next) ? { cookie: this.cookieHeader(next)! } : {}),
          ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
        },
        ...(body ? { body } : {}),
      });
      for (const line of response.headers.getSetCookie()) this.keepCookie(line, next);
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location) {
        next = new URL(location, next).toString();
        method = 'GET';
        body = undefined;
        continue;
      }
      this.lastUrl = next;
      return { status: response.status, html: await response.text(), url: next };
    }
    throw new Error(`more than 20 redirects from ${url}`);
  }

  /**
   * Submits the page's form (the one with `formId`, else the first) with its hidden fields and
   * `fields`; an auto-submitting form_post page is submitted the same way.
   */
  submit(page: { html: string; url: string }, fields: Record<string, string> = {}, formId?: string) {
    const forms = [...page.html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)];
    const form = (formId ? forms.find((match) => attribute(match[1]!, 'id') === formId) : forms[0]) ?? undefined;
    if (!form) throw new Error(`no form on ${page.url}: ${page.html.slice(0, 300)}`);
    const hidden: Record<string, string> = {};
    for (const input of form[2]!.matchAll(/<input\b([^>]*)>/gi)) {
      const name = attribute(input[1]!, 'name');
      if (name && attribute(input[1]!, 'type') === 'hidden') hidden[name] = decodeEntities(attribute(input[1]!, 'value') ?? '');
    }
    const action = new URL(decodeEntities(attribute(form[1]!, 'action') ?? page.url), page.url).toString();
    return this.open(action, { method: (attribute(form[1]!, 'method') ?? 'GET').toUpperCase(), form: { ...hidden, ...fields } });
  }

  private cookieHeader(url: string): string | undefined {
    const { host, pathname } = new URL(url);
    const pairs = [...this.cookies.values()]
      .filter(
        (cookie) =>
          cookie.host === host &&
          (pathname === cookie.path || pathname.startsWith(cookie.path.endsWith('/') ? cookie.path : `${cookie.path}/`)),
      )
      .map((cookie) => `${cookie.name}=${cookie.value}`);
    return pairs.length ? pairs.join('; ') : undefined;
  }

  private keepCookie(line: string, url: string): void {
    const [pair, ...attributes] = line.split(';').map((part) => part.trim());
    const at = pair!.indexOf('=');
    const name = pair!.slice(0, at);
    const value = pair!.slice(at + 1);
    const path = attributes.find((part) => /^path=/i.test(part))?.slice(5) || '/';
    const host = new URL(url).host;
    const key = `${host} ${path} ${name}`;
    const expired = attributes.some(
      (part) => /^max-age=(0|-)/i.test(part) || (/^expires=/i.test(part) && Date.parse(part.slice(8)) < Date.now()),
    );
    if (expired) this.cookies.delete(key);
    else this.cookies.set(key, { host, path, name, value });
  }
}

const attribute = (tag: string, name: string): string | undefined =>
  new RegExp(`\\b${name}\\s*=\\s*("([^"]*)"|'([^']*)'|([^\\s>]+))`, 'i')
    .exec(tag)
    ?.slice(2)
    .find((value) => value !== undefined);

const decodeEntities = (text: string) =>
  text.replace(
    /&(amp|lt|gt|quot|#39|#x2F);/g,
    (_, entity: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", '#x2F': '/' })[entity]!,
  );
