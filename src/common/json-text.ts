/**
 * JSON text read strictly: JSON.parse, refusing the two things it silently loses — a key given
 * twice in one object (the last one would win, so a second "name" would rename a network) and an
 * integer too large to hold exactly (9007199254740993 would become …992, and an error would then
 * quote a number nobody sent). The error names the JSON path (RFC 6901 pointer) and quotes the
 * literal as it was written.
 *
 * The check is a scan of the text JSON.parse has already accepted, with an explicit stack (no
 * recursion, so nesting depth costs memory, not the call stack) and no values built.
 */

export class JsonTextError extends Error {
  override readonly name = 'JsonTextError';
  /** Where: a JSON pointer ("" for the whole document). */
  readonly path: string;
  readonly reason: string;

  constructor(path: string, reason: string) {
    super(`${path || '/'}: ${reason}`);
    this.path = path;
    this.reason = reason;
  }
}

/** JSON.parse (its SyntaxError passes through), then the strict checks: JsonTextError. */
export function parseStrictJson(text: string): unknown {
  const value: unknown = JSON.parse(text);
  checkJsonText(text);
  return value;
}

interface Frame {
  readonly path: string;
  /** An object's keys seen so far; null for an array. */
  readonly keys: Set<string> | null;
  /** The array's next index, or the object's key awaiting its value. */
  index: number;
  key: string | null;
}

const pointerToken = (key: string): string => key.replace(/~/g, '~0').replace(/\//g, '~1');
const quoted = (text: string): string => JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}…` : text);
const INTEGER = /-?\d+(?![.eE\d])/y;
const NUMBER = /-?\d+(\.\d+)?([eE][+-]?\d+)?/y;

/** The strict checks on text that is valid JSON. */
export function checkJsonText(text: string): void {
  const stack: Frame[] = [];
  const valuePath = (): string => {
    const top = stack.at(-1);
    if (!top) return '';
    return top.keys === null ? `${top.path}/${top.index}` : `${top.path}/${pointerToken(top.key ?? '')}`;
  };
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      stack.push({ path: valuePath(), keys: c === 0x7b ? new Set() : null, index: 0, key: null });
      i++;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      i++;
    } else if (c === 0x2c /* , */) {
      const top = stack.at(-1);
      if (top?.keys === null) top.index++;
      else if (top) top.key = null;
      i++;
    } else if (c === 0x22 /* " */) {
      let end = i + 1;
      let escaped = false;
      for (;;) {
        const d = text.charCodeAt(end);
        if (d === 0x5c) {
          escaped = true;
          end += 2;
        } else if (d === 0x22) break;
        else end++;
      }
      const top = stack.at(-1);
      if (top && top.keys !== null && top.key === null) {
        const key = escaped ? (JSON.parse(text.slice(i, end + 1)) as string) : text.slice(i + 1, end);
        if (top.keys.has(key))
          throw new JsonTextError(
            `${top.path}/${pointerToken(key)}`,
            `key ${quoted(key)} is given twice in one object`,
          );
        top.keys.add(key);
        top.key = key;
      }
      i = end + 1;
    } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      INTEGER.lastIndex = i;
      const integer = INTEGER.exec(text);
      if (integer && !Number.isSafeInteger(Number(integer[0]))) {
        throw new JsonTextError(
          valuePath(),
          `${quoted(integer[0])} is not exactly representable (integers are limited to ±${Number.MAX_SAFE_INTEGER})`,
        );
      }
      NUMBER.lastIndex = i;
      i += NUMBER.exec(text)?.[0].length ?? 1;
    } else {
      i++; // whitespace, ':', and the letters of true/false/null
    }
  }
}
