/**
 * Finds the system programs that source files run, by reading them (not by running anything), so
 * that a unit test can hold them against src/common/system-programs.ts and scripts/setup.
 *
 * TypeScript (parsed with the compiler's own parser):
 * - every string literal that is a path in a system bin directory (`'/usr/sbin/nft'`), wherever
 *   it stands — constants such as `WG = '/usr/bin/wg'` are how many call sites name programs;
 * - the literal program of a spawning call (node's spawn/execFile…, execa, the harness's
 *   runCommand, BackgroundProcess, Namespace.exec/spawn, systemTool): the first bare program name
 *   among its first two arguments and the first element of an array passed first; and of a local
 *   wrapper named like one (`run`, `timed`…) that is given a whole argv (`run(['mkdir', …])`);
 * - inside argument arrays: the program after `netns exec NS`, after nsenter's `--`, and the
 *   commands of a `sh -c` / `bash -c` script.
 * Shell scripts: the command word of every simple command (after assignments, redirections and
 * `exec`/`command`/`env`/`time`, inside `$(…)`, backquotes, subshells, trap handlers and `ip
 * netns exec`), minus the script's own functions, shell builtins, keywords, variables and paths
 * of the repository; plus every system path the script names (`IP=/usr/sbin/ip`). Heredoc bodies
 * are data (nft rules, the initramfs's busybox /init) and are skipped.
 */
import ts from 'typescript';

export interface ProgramUse {
  readonly program: string;
  /** `file:line`. */
  readonly where: string;
}

const SYSTEM_PATH = /^\/(?:usr\/)?(?:local\/)?s?bin\/([A-Za-z0-9][\w.+-]*)$/;
const PROGRAM_NAME = /^[a-z][a-z0-9_+-]*$/;
/** Calls that run their first (or, after a namespace, second) argument. */
const SPAWNERS = new Set([
  'spawn',
  'spawnSync',
  'execFile',
  'execFileSync',
  'execa',
  'execaSync', // node:child_process, execa
  'runCommand',
  'BackgroundProcess',
  'exec',
  'spawnSharingMounts',
  'systemTool', // the harness
]);
/** Local wrappers given a whole argv (`run(['mkdir', '-p', dir])`) have names like these. */
const ARGV_WRAPPER = /spawn|exec|run|command|timed/i;

function lineOf(text: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

// ---- TypeScript ----

function literalText(node: ts.Node | undefined): string | undefined {
  if (node && (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node))) return node.text;
  return undefined;
}

function calleeName(expr: ts.LeftHandSideExpression): string | undefined {
  if (ts.isIdentifier(expr)) return expr.text;
  if (ts.isPropertyAccessExpression(expr)) return expr.name.text;
  return undefined;
}

/** Programs named inside one argument array: `netns exec NS prog`, `nsenter … -- prog`, `sh -c SCRIPT`. */
function programsInArray(
  elements: readonly ts.Expression[],
  add: (program: string) => void,
  addScript: (script: string) => void,
): void {
  const words = elements.map((e) => literalText(e));
  for (let i = 0; i < words.length; i++) {
    if (words[i] === 'netns' && words[i + 1] === 'exec') {
      const program = words[i + 3];
      if (program !== undefined && PROGRAM_NAME.test(program)) add(program);
    }
    if (words[i] === '--') {
      const program = words[i + 1];
      if (program !== undefined && PROGRAM_NAME.test(program)) add(program);
    }
    const script = words[i + 2];
    if ((words[i] === 'sh' || words[i] === 'bash') && words[i + 1] === '-c' && script !== undefined) addScript(script);
  }
}

export function programsInTypeScript(text: string, file: string): ProgramUse[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: ProgramUse[] = [];
  const at = (node: ts.Node) => `${file}:${source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1}`;
  const visit = (node: ts.Node): void => {
    const literal = literalText(node);
    const path = literal === undefined ? null : SYSTEM_PATH.exec(literal);
    if (path) found.push({ program: path[1] as string, where: at(node) });
    if ((ts.isCallExpression(node) || ts.isNewExpression(node)) && node.arguments) {
      const name = calleeName(node.expression);
      const first = node.arguments[0];
      const argv = first && ts.isArrayLiteralExpression(first) ? literalText(first.elements[0]) : undefined;
      const wrapper = name !== undefined && !SPAWNERS.has(name) && ARGV_WRAPPER.test(name);
      if (wrapper && argv !== undefined && PROGRAM_NAME.test(argv)) found.push({ program: argv, where: at(node) });
      if (name !== undefined && SPAWNERS.has(name)) {
        const add = (program: string) => found.push({ program, where: at(node) });
        const addScript = (script: string) => {
          for (const use of programsInShell(script, at(node))) found.push({ program: use.program, where: at(node) });
        };
        const args = node.arguments;
        const candidates = [literalText(args[0]), literalText(args[1]), argv];
        const program = candidates.find((c) => c !== undefined && PROGRAM_NAME.test(c));
        if (program !== undefined) add(program);
        // `spawn('sh', ['-c', SCRIPT])`: the program and its arguments are separate.
        const argList = args.find((a): a is ts.ArrayLiteralExpression => ts.isArrayLiteralExpression(a));
        if (program === 'sh' || program === 'bash') {
          const words = argList?.elements.map((e) => literalText(e)) ?? [];
          const c = words.indexOf('-c');
          if (c >= 0 && words[c + 1] !== undefined) addScript(words[c + 1] as string);
        }
        for (const a of args) if (ts.isArrayLiteralExpression(a)) programsInArray(a.elements, add, addScript);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

// ---- shell ----

const SHELL_BUILTINS = new Set([
  '.',
  ':',
  '[',
  '[[',
  ']]',
  'alias',
  'bg',
  'break',
  'builtin',
  'caller',
  'cd',
  'compgen',
  'complete',
  'continue',
  'declare',
  'dirs',
  'disown',
  'echo',
  'enable',
  'eval',
  'exit',
  'export',
  'false',
  'fc',
  'fg',
  'getopts',
  'hash',
  'help',
  'history',
  'jobs',
  'kill',
  'let',
  'local',
  'logout',
  'mapfile',
  'popd',
  'printf',
  'pushd',
  'pwd',
  'read',
  'readarray',
  'readonly',
  'return',
  'set',
  'shift',
  'shopt',
  'source',
  'test',
  'times',
  'trap',
  'true',
  'type',
  'typeset',
  'ulimit',
  'umask',
  'unalias',
  'unset',
  'wait',
]);
/** Words after which the next word is still in command position. */
const COMMAND_PREFIXES = new Set([
  '!',
  '{',
  'if',
  'then',
  'else',
  'elif',
  'do',
  'while',
  'until',
  'time',
  'exec',
  'command',
  'env',
  'nohup',
  'nice',
]);
/** A simple command starting with one of these runs nothing itself. */
const NON_COMMANDS = new Set(['}', 'fi', 'done', 'esac', 'for', 'select', 'case', 'in', 'function']);
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=/;
const REDIRECTION = /^[0-9]*(?:>>?|<<?<?|>&|<&|&>>?)/;

interface Word {
  readonly text: string;
  readonly line: number;
}

interface Parsed {
  /** Simple commands, as their words (quotes removed, substitutions left as `$(…)`). */
  readonly commands: Word[][];
  /** Code run elsewhere: the bodies of `$(…)` and backquotes, with their first line. */
  readonly nested: Array<{ code: string; line: number }>;
}

/** The index just after the `)` that closes the `$(` or `(` whose body starts at `start`. */
function closingParen(text: string, start: number): number {
  let depth = 1;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') i++;
    else if (c === "'") i = text.indexOf("'", i + 1) < 0 ? text.length : text.indexOf("'", i + 1);
    else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i + 1;
  }
  return text.length;
}

/** Removes heredoc bodies (kept as empty lines, so line numbers stay right) and case patterns. */
function withoutHeredocs(text: string): string {
  const lines = text.split('\n');
  const out: string[] = [];
  let end: string | null = null;
  for (const line of lines) {
    if (end !== null) {
      out.push('');
      if (line.trim() === end) end = null;
      continue;
    }
    out.push(line);
    const m = /<<-?\s*(['"]?)([A-Za-z_][A-Za-z0-9_]*)\1/.exec(line);
    if (m) end = m[2] as string;
  }
  return withoutCasePatterns(out).join('\n');
}

/** Blanks the patterns of `case` clauses (`*.xz)`, `/tmp/*|/run/*)`): they are words, not commands. */
function withoutCasePatterns(lines: readonly string[]): string[] {
  let depth = 0;
  return lines.map((line) => {
    const trimmed = line.trim();
    if (/^case\s.*\sin$/.test(trimmed)) {
      depth++;
      return line;
    }
    let out = line;
    if (depth > 0) out = line.replace(/^(\s*)\(?[^\s()|]+(?:\s*\|\s*[^\s()|]+)*\)/, '$1');
    if (/(^|[;\s])esac$/.test(trimmed)) depth = Math.max(0, depth - 1);
    return out;
  });
}

function parseShell(text: string, firstLine: number): Parsed {
  const commands: Word[][] = [];
  const nested: Array<{ code: string; line: number }> = [];
  let current: Word[] = [];
  let word = '';
  let inWord = false;
  let wordLine = firstLine;
  let line = firstLine;
  const endWord = () => {
    if (inWord) current.push({ text: word, line: wordLine });
    word = '';
    inWord = false;
  };
  const endCommand = () => {
    endWord();
    if (current.length > 0) commands.push(current);
    current = [];
  };
  const startWord = () => {
    if (!inWord) wordLine = line;
    inWord = true;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '\n') {
      line++;
      endCommand();
    } else if (c === '#' && !inWord) {
      const nl = text.indexOf('\n', i);
      i = (nl < 0 ? text.length : nl) - 1;
    } else if (c === ' ' || c === '\t') {
      endWord();
    } else if (c === '\\' && text[i + 1] === '\n') {
      // A continued line: the command goes on.
      endWord();
      line++;
      i++;
    } else if (c === '\\') {
      startWord();
      word += text[i + 1] ?? '';
      i++;
    } else if (c === "'") {
      startWord();
      const close = text.indexOf("'", i + 1);
      const end = close < 0 ? text.length : close;
      word += text.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      startWord();
      for (i++; i < text.length && text[i] !== '"'; i++) {
        if (text[i] === '\\') {
          word += text[i + 1] ?? '';
          i++;
        } else if (text[i] === '$' && text[i + 1] === '(' && text[i + 2] !== '(') {
          const end = closingParen(text, i + 2);
          nested.push({ code: text.slice(i + 2, end - 1), line: line });
          word += '$(…)';
          i = end - 1;
        } else {
          if (text[i] === '\n') line++;
          word += text[i];
        }
      }
    } else if (c === '$' && text[i + 1] === '(') {
      startWord();
      const end = closingParen(text, i + 2);
      // `$((…))` is arithmetic; `$(…)` runs commands.
      if (text[i + 2] !== '(') nested.push({ code: text.slice(i + 2, end - 1), line });
      word += '$(…)';
      i = end - 1;
    } else if (c === '$' && text[i + 1] === '{') {
      startWord();
      const close = text.indexOf('}', i);
      word += text.slice(i, close < 0 ? text.length : close + 1);
      i = close < 0 ? text.length : close;
    } else if (c === '`') {
      startWord();
      const close = text.indexOf('`', i + 1);
      const end = close < 0 ? text.length : close;
      nested.push({ code: text.slice(i + 1, end), line });
      word += '$(…)';
      i = end;
    } else if (c === '(' && inWord && word.endsWith('=')) {
      // An array assignment: `order=(…)`, `seen+=(…)`.
      const end = closingParen(text, i + 1);
      word += text.slice(i, end);
      i = end - 1;
    } else if (c === ';' || c === '&' || c === '|' || c === '(' || c === ')') {
      if (c === '&' && (word.endsWith('>') || text[i + 1] === '>')) {
        // `2>&1`, `&>`: part of a redirection.
        startWord();
        word += c;
        continue;
      }
      endCommand();
      if ((c === ';' || c === '&' || c === '|') && text[i + 1] === c) i++;
    } else {
      startWord();
      word += c;
    }
  }
  endCommand();
  return { commands, nested };
}

/** The program of one simple command, or null when it runs none (or one the script defines). */
function commandWord(words: readonly Word[], functions: ReadonlySet<string>): Word | null {
  let i = 0;
  while (i < words.length) {
    const w = (words[i] as Word).text;
    if (ASSIGNMENT.test(w)) i++;
    else if (REDIRECTION.test(w)) i += w.replace(REDIRECTION, '') === '' ? 2 : 1;
    else if (w === 'command' && /^-[vV]$/.test(words[i + 1]?.text ?? ''))
      return null; // a lookup, not a run
    else if (COMMAND_PREFIXES.has(w)) {
      i++;
      while (i < words.length && (words[i] as Word).text.startsWith('-')) i++;
    } else break;
  }
  const word = words[i];
  if (!word) return null;
  const w = word.text;
  if (NON_COMMANDS.has(w) || SHELL_BUILTINS.has(w) || functions.has(w)) return null;
  if (w.startsWith('$') || w.includes('$(…)') || w.includes('${')) return null;
  if (w.includes('/')) return null; // a path: the system ones are found as paths, the others are ours
  return word;
}

export function programsInShell(
  text: string,
  file: string,
  firstLine = 1,
  outerFunctions: ReadonlySet<string> = new Set(),
): ProgramUse[] {
  const found: ProgramUse[] = [];
  const clean = withoutHeredocs(text);
  const definitions = clean.matchAll(/^\s*(?:function\s+)?([A-Za-z_][\w-]*)\s*\(\)\s*\{?/gm);
  const defined = [...definitions].map((m) => m[1] as string);
  const functions = new Set([...outerFunctions, ...defined]);
  // The interpreter of the script and every system path it names.
  const shebang = /^#!\s*(\S+)(?:\s+(\S+))?/.exec(clean);
  if (shebang) {
    const interpreter = SYSTEM_PATH.exec(shebang[1] as string)?.[1];
    if (interpreter) found.push({ program: interpreter, where: `${file}:1` });
    if (interpreter === 'env' && shebang[2]) found.push({ program: shebang[2], where: `${file}:1` });
  }
  for (const m of clean.matchAll(/(?<![\w./-])(\/(?:usr\/)?(?:local\/)?s?bin\/[A-Za-z0-9][\w.+-]*)/g)) {
    const program = SYSTEM_PATH.exec(m[1] as string)?.[1];
    if (program && m.index !== undefined && !(m.index < 2 && clean.startsWith('#!'))) {
      found.push({ program, where: `${file}:${lineOf(clean, m.index)}` });
    }
  }
  const walk = (code: string, line: number): void => {
    const { commands, nested } = parseShell(code, line);
    for (const words of commands) use(words);
    for (const n of nested) walk(n.code, n.line);
  };
  const use = (words: readonly Word[]): void => {
    const word = commandWord(words, functions);
    if (word) found.push({ program: word.text, where: `${file}:${word.line}` });
    // `… netns exec NS prog …`: prog runs too.
    for (let i = 0; i + 3 < words.length; i++) {
      if (words[i]?.text === 'netns' && words[i + 1]?.text === 'exec') {
        const inner = commandWord(words.slice(i + 3), functions);
        if (inner) found.push({ program: inner.text, where: `${file}:${inner.line}` });
      }
    }
    // `trap 'handler' SIGNALS` and `sh -c 'script'`: the handler or script is code.
    const cmd = word?.text;
    const at = word ? words.indexOf(word) : -1;
    if (cmd === undefined && words[0]?.text === 'trap' && words[1]) {
      for (const u of programsInShell(words[1].text, file, words[1].line, functions)) found.push(u);
    }
    const script = words[at + 2];
    if ((cmd === 'sh' || cmd === 'bash') && words[at + 1]?.text === '-c' && script) {
      for (const u of programsInShell(script.text, file, script.line, functions)) found.push(u);
    }
  };
  walk(clean, firstLine);
  return found;
}
