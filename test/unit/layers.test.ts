/**
 * The layer order of src/, as the README's "Layers" table writes it down, holds for every import:
 * a file imports only from its own layer's folder or from a layer below it, and no files import
 * one another in a cycle. The imports are read with TypeScript's own pre-processor (static,
 * type-only, re-exports and dynamic `import()`), so what the compiler follows is what is checked.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import ts from 'typescript';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const src = join(root, 'src');

/** Layer of each top-level folder of src/, 0 the top; folders on one line share a layer. */
function layersFromReadme(): Map<string, number> {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.split(/^## /m).find((part) => part.startsWith('Layers'));
  if (section === undefined) throw new Error('README.md has no "## Layers" section');
  const block = /^```\n([\s\S]*?)^```/m.exec(section);
  if (block === null) throw new Error('README.md "Layers" has no fenced block');
  const layers = new Map<string, number>();
  block[1]!
    .split('\n')
    .filter((line) => line.trim() !== '')
    .forEach((line, layer) => {
      // "name name    what they are": the folder names, then two or more spaces and prose.
      for (const name of line
        .split(/\s{2,}/)[0]!
        .trim()
        .split(' '))
        layers.set(name, layer);
    });
  return layers;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

/** The files of src/ that `file` imports (node: and package imports left out). */
function importsOf(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return info.importedFiles
    .map((entry) => entry.fileName)
    .filter((name) => name.startsWith('.'))
    .map((name) => resolve(dirname(file), name).replace(/\.js$/, '.ts'));
}

const folderOf = (file: string): string => relative(src, file).split('/')[0]!;
const files = sourceFiles(src);
const graph = new Map(files.map((file) => [file, importsOf(file)]));

test('every folder of src/ has a place in the README layer order', (t) => {
  const layers = layersFromReadme();
  const missing = [...new Set(files.map(folderOf))].filter((folder) => !layers.has(folder));
  t.deepEqual(missing, [], `folders of src/ missing from README.md "Layers": ${missing.join(', ')}`);
});

test('no file of src/ imports from a layer above its own or a sibling layer folder', (t) => {
  const layers = layersFromReadme();
  const upward: string[] = [];
  for (const [file, imports] of graph) {
    const from = folderOf(file);
    for (const target of imports) {
      const to = folderOf(target);
      if (to === from) continue;
      if ((layers.get(to) ?? -1) <= (layers.get(from) ?? -1)) {
        upward.push(`${relative(root, file)} → ${relative(root, target)} (${from} may not import ${to})`);
      }
    }
  }
  t.deepEqual(upward, []);
});

/** Folders reached from outside only through their front door (`<folder>/index.ts`). */
const FRONT_DOORS = ['nr'];

test('the folders above nr (networkd) import it only through its front door, nr/index.ts', (t) => {
  const past: string[] = [];
  for (const [file, imports] of graph) {
    const from = folderOf(file);
    for (const target of imports) {
      const to = folderOf(target);
      if (to === from || !FRONT_DOORS.includes(to)) continue;
      if (target !== join(src, to, 'index.ts')) past.push(`${relative(root, file)} → ${relative(root, target)}`);
    }
  }
  t.deepEqual(past, []);
});

test('every import of src/ names a file that exists', (t) => {
  const known = new Set(files);
  const broken = [...graph].flatMap(([file, imports]) =>
    imports
      .filter((target) => !known.has(target))
      .map((target) => `${relative(root, file)} → ${relative(root, target)}`),
  );
  t.deepEqual(broken, []);
});

/** Strongly connected components of more than one file, or a file importing itself (Tarjan). */
function importCycles(): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (file: string): void => {
    index.set(file, counter);
    low.set(file, counter);
    counter += 1;
    stack.push(file);
    onStack.add(file);
    for (const target of graph.get(file) ?? []) {
      if (!graph.has(target)) continue;
      if (!index.has(target)) {
        visit(target);
        low.set(file, Math.min(low.get(file)!, low.get(target)!));
      } else if (onStack.has(target)) {
        low.set(file, Math.min(low.get(file)!, index.get(target)!));
      }
    }
    if (low.get(file) !== index.get(file)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(relative(root, member));
    } while (member !== file);
    if (component.length > 1 || (graph.get(file) ?? []).includes(file)) cycles.push(component.sort());
  };
  for (const file of graph.keys()) if (!index.has(file)) visit(file);
  return cycles;
}

test('no files of src/ import one another in a cycle', (t) => {
  t.deepEqual(importCycles(), []);
});
