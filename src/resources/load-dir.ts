// `serve --resources DIR`: Envoy resources written by hand as YAML/JSON.
//
// Layout: DIR/<group>/*.yaml|*.yml|*.json. Each folder is one proxy group; a proxy joins the
// group named after its node id, else its node cluster, else "default". A file holds one
// resource, a list of them, or several YAML documents; every resource names its type with
// "@type" (e.g. type.googleapis.com/envoy.config.cluster.v3.Cluster) and is otherwise
// written in Envoy's own proto3 JSON/YAML form. All errors are reported at once, with
// file:line:column; a directory with any error is not applied.
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { Document } from 'yaml';
import { ProtoJsonError } from '../xds/json.js';
import { type Resource, resourceFromJson } from '../xds/resource.js';
import { DuplicateResourceError, Snapshot } from '../xds/snapshot.js';
import { isServedType, SHORT_NAME } from '../xds/type-urls.js';
import { locate, parseYaml, SourceError, splitPath, toJs, type ParsedYaml } from '../util/yaml-source.js';

export interface LoadedResources {
  snapshots: Map<string, Snapshot>;
  errors: SourceError[];
  /** Hash of every file's name and content: equal hashes need no reload. */
  contentHash: string;
  files: number;
}

const EXTENSIONS = new Set(['.yaml', '.yml', '.json']);
const MAX_FILES = 10_000;

interface Located {
  resource: Resource;
  parsed: ParsedYaml;
  doc: Document.Parsed;
  path: Array<string | number>;
}

export function listResourceFiles(dir: string): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  let count = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const gdir = path.join(dir, entry.name);
    const files = fs
      .readdirSync(gdir, { withFileTypes: true })
      .filter((f) => f.isFile() && !f.name.startsWith('.') && EXTENSIONS.has(path.extname(f.name)))
      .map((f) => path.join(gdir, f.name))
      .sort();
    count += files.length;
    if (count > MAX_FILES) throw new Error(`more than ${MAX_FILES} files under ${dir}`);
    groups.set(entry.name, files);
  }
  return groups;
}

export function loadResourceDir(dir: string): LoadedResources {
  const errors: SourceError[] = [];
  const snapshots = new Map<string, Snapshot>();
  const hash = createHash('sha256');
  let groups: Map<string, string[]>;
  try {
    groups = listResourceFiles(dir);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const msg = e.code === 'ENOENT' ? 'resource directory does not exist' : e.message;
    return { snapshots, errors: [new SourceError(msg, { file: dir, line: 1, column: 1 })], contentHash: '', files: 0 };
  }
  let files = 0;
  for (const [group, list] of groups) {
    const located: Located[] = [];
    for (const file of list) {
      files++;
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch (err) {
        errors.push(new SourceError(`cannot read: ${(err as Error).message}`, { file, line: 1, column: 1 }));
        continue;
      }
      hash.update(file).update('\0').update(text).update('\0');
      loadFile(file, text, located, errors);
    }
    if (located.length === 0) continue;
    try {
      const snap = new Snapshot(located.map((l) => l.resource));
      for (const p of snap.problems()) {
        const at = located.find((l) => l.resource.typeUrl === p.typeUrl && l.resource.name === p.resource);
        const pos = at ? locate(at.parsed, at.doc, at.path) : { file: dir, line: 1, column: 1 };
        errors.push(new SourceError(`${SHORT_NAME[p.typeUrl]} "${p.resource}" ${p.message} in group "${group}"`, pos));
      }
      snapshots.set(group, snap);
    } catch (err) {
      if (!(err instanceof DuplicateResourceError)) throw err;
      const dups = located.filter((l) => l.resource.typeUrl === err.typeUrl && l.resource.name === err.resourceName);
      const second = dups[1] ?? dups[0]!;
      const first = dups[0]!;
      const firstPos = locate(first.parsed, first.doc, first.path);
      errors.push(new SourceError(`${err.message} in group "${group}" (first defined at ${firstPos.file}:${firstPos.line}:${firstPos.column})`, locate(second.parsed, second.doc, second.path)));
    }
  }
  if (files === 0 && errors.length === 0) {
    errors.push(new SourceError('no resource files found: expected DIR/<group>/*.yaml', { file: dir, line: 1, column: 1 }));
  }
  return { snapshots, errors, contentHash: hash.digest('hex'), files };
}

function loadFile(file: string, text: string, out: Located[], errors: SourceError[]): void {
  let parsed: ParsedYaml;
  try {
    parsed = parseYaml(file, text);
  } catch (err) {
    if (err instanceof SourceError) return void errors.push(err);
    throw err;
  }
  for (const doc of parsed.docs) {
    let value: unknown;
    try {
      value = toJs(parsed, doc);
    } catch (err) {
      if (err instanceof SourceError) {
        errors.push(err);
        continue;
      }
      throw err;
    }
    if (value === null || value === undefined) continue;
    const entries: Array<{ v: unknown; path: Array<string | number> }> = [];
    if (Array.isArray(value)) value.forEach((v, i) => entries.push({ v, path: [i] }));
    else if (typeof value === 'object' && Array.isArray((value as Record<string, unknown>)['resources'])) {
      ((value as Record<string, unknown>)['resources'] as unknown[]).forEach((v, i) => entries.push({ v, path: ['resources', i] }));
    } else entries.push({ v: value, path: [] });
    for (const { v, path: p } of entries) {
      const here = (sub: Array<string | number> = []): ReturnType<typeof locate> => locate(parsed, doc, [...p, ...sub]);
      if (!v || typeof v !== 'object' || Array.isArray(v)) {
        errors.push(new SourceError('expected a resource (a mapping with "@type")', here()));
        continue;
      }
      const { '@type': typeUrl, ...body } = v as Record<string, unknown>;
      if (typeof typeUrl !== 'string') {
        errors.push(new SourceError('missing "@type": say which resource this is, e.g. type.googleapis.com/envoy.config.cluster.v3.Cluster', here()));
        continue;
      }
      if (!isServedType(typeUrl)) {
        errors.push(new SourceError(`"@type" ${typeUrl} is not a resource type meshgate serves (Listener, RouteConfiguration, Cluster, ClusterLoadAssignment, Secret)`, here(['@type'])));
        continue;
      }
      try {
        out.push({ resource: resourceFromJson(typeUrl, body), parsed, doc, path: p });
      } catch (err) {
        if (!(err instanceof ProtoJsonError)) throw err;
        const sub = err.path === '(top level)' ? [] : splitPath(err.path);
        errors.push(new SourceError(err.message.replace(`${err.path}: `, ''), here(sub), err.path === '(top level)' ? '' : err.path));
      }
    }
  }
}
