/** Checks on the report page: self-contained (nothing fetched) and well-formed inline SVG. */
import { expect } from 'vitest';

/** The inline <svg>…</svg> blocks of a page. */
export function svgBlocks(html: string): string[] {
  return html.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
}

/**
 * Tag balance of an XML fragment: every element closes in order (self-closing allowed), and no
 * raw '<' or '&' outside markup and entities. Returns the problem, or null.
 */
export function xmlProblem(xml: string): string | null {
  const stack: string[] = [];
  const re = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"]*")*)\s*(\/?)>|<!--[\s\S]*?-->|<\?[\s\S]*?\?>|(<)|(&(?!(?:[a-zA-Z]+|#\d+|#x[0-9a-fA-F]+);))/g;
  for (let m = re.exec(xml); m !== null; m = re.exec(xml)) {
    if (m[5] !== undefined) return `stray '<' at ${m.index}: ${xml.slice(m.index, m.index + 40)}`;
    if (m[6] !== undefined) return `unescaped '&' at ${m.index}: ${xml.slice(m.index, m.index + 40)}`;
    const [, closing, name, , selfClosing] = m;
    if (name === undefined) continue;
    if (closing === '/') {
      const open = stack.pop();
      if (open !== name) return `</${name}> closes <${open ?? 'nothing'}>`;
    } else if (selfClosing !== '/') stack.push(name);
  }
  return stack.length === 0 ? null : `unclosed <${stack.join('>, <')}>`;
}

/** No script, stylesheet, font, image or frame is loaded from anywhere; every SVG is well-formed. */
export function assertSelfContained(html: string): void {
  expect(html.startsWith('<!doctype html>')).toBe(true);
  expect(html).not.toMatch(/<script/i);
  expect(html).not.toMatch(/<link/i);
  expect(html).not.toMatch(/<(img|iframe|object|embed)\b/i);
  expect(html).not.toMatch(/\ssrc\s*=/i);
  expect(html).not.toMatch(/@import|@font-face/i);
  expect(html).not.toMatch(/url\(\s*['"]?(https?:)?\/\//i);
  expect(html).not.toMatch(/(href|xlink:href)\s*=\s*["']?(https?:)?\/\//i);
  // The only absolute URLs are XML namespace names, which are identifiers, not fetched.
  const urls = html.match(/https?:\/\/[^\s"'<>)]+/g) ?? [];
  for (const u of urls) expect(['http://www.w3.org/2000/svg', 'http://www.w3.org/1999/xlink']).toContain(u);
  for (const svg of svgBlocks(html)) expect(xmlProblem(svg)).toBeNull();
}
