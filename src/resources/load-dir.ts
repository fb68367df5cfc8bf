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
import { DEFAULT_YAML_LIMITS, locate, parseYaml, SourceError, splitPath, toJs, type ParsedYaml, type YamlLimits } from '../util/yaml-source.js';

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

/** File or directory, following a symbolic link (deployments such as ConfigMap mounts use them). */
function kindOf(parent: string, entry: fs.Dirent): 'file' | 'dir' | 'other' | 'dangling' {
  if (entry.isFile()) return 'file';
  if (entry.isDirectory()) return 'dir';
  if (!entry.isSymbolicLink()) return 'other';
  try {
    const st = fs.statSync(path.join(parent, entry.name));
    return st.isFile() ? 'file' : st.isDirectory() ? 'dir' : 'other';
  } catch {
    return 'dangling';
  }
}

export function listResourceFiles(dir: string): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  let count = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith('.') || kindOf(dir, entry) !== 'dir') continue;
    const gdir = path.join(dir, entry.name);
    const files = fs
      .readdirSync(gdir, { withFileTypes: true })
      // A dangling link is listed so that reading it reports the problem.
      .filter((f) => !f.name.startsWith('.') && EXTENSIONS.has(path.extname(f.name)) && ['file', 'dangling'].includes(kindOf(gdir, f)))
      .map((f) => path.join(gdir, f.name))
      .sort();
    count += files.length;
    if (count > MAX_FILES) throw new Error(`more than ${MAX_FILES} files under ${dir}`);
    groups.set(entry.name, files);
  }
  return groups;
}

export function loadResourceDir(dir: string, limits: YamlLimits = DEFAULT_YAML_LIMITS): LoadedResources {
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
        // Check the size before reading: a huge file must not be read into memory whole.
        const st = fs.statSync(file);
        if (st.size > limits.maxBytes) {
          hash.update(file).update('\0').update(`${st.size}:${st.mtimeMs}:${st.ino}`).update('\0');
          errors.push(new SourceError(`file is larger than the limit of ${limits.maxBytes} bytes`, { file, line: 1, column: 1 }));
          continue;
        }
        text = fs.readFileSync(file, 'utf8');
      } catch (err) {
        errors.push(new SourceError(`cannot read: ${(err as Error).message}`, { file, line: 1, column: 1 }));
        continue;
      }
      hash.update(file).update('\0').update(text).update('\0');
      loadFile(file, text, located, errors, limits);
    }
    if (located.length === 0) continue;
    // Every duplicate is reported (not only the first), then the rest is still checked.
    const firstOf = new Map<string, Located>();
    const unique: Located[] = [];
    for (const l of located) {
      const key = `${l.resource.typeUrl}\0${l.resource.name}`;
      const first = firstOf.get(key);
      if (!first) {
        firstOf.set(key, l);
        unique.push(l);
        continue;
      }
      const firstPos = locate(first.parsed, first.doc, first.path);
      const dup = new DuplicateResourceError(l.resource.typeUrl, l.resource.name);
      errors.push(new SourceError(`${dup.message} in group "${group}" (first defined at ${firstPos.file}:${firstPos.line}:${firstPos.column})`, locate(l.parsed, l.doc, l.path)));
    }
    const snap = new Snapshot(unique.map((l) => l.resource));
    for (const p of snap.problems()) {
      const at = unique.find((l) => l.resource.typeUrl === p.typeUrl && l.resource.name === p.resource);
      const pos = at ? locate(at.parsed, at.doc, at.path) : { file: dir, line: 1, column: 1 };
      errors.push(new SourceError(`${SHORT_NAME[p.typeUrl]} "${p.resource}" ${p.message} in group "${group}"`, pos));
    }
    if (unique.length === located.length) snapshots.set(group, snap);
  }
  if (files === 0 && errors.length === 0) {
    errors.push(new SourceError('no resource files found: expected DIR/<group>/*.yaml', { file: dir, line: 1, column: 1 }));
  }
  return { snapshots, errors, contentHash: hash.digest('hex'), files };
}

function loadFile(file: string, text: string, out: Located[], errors: SourceError[], limits: YamlLimits): void {
  let parsed: ParsedYaml;
  try {
    parsed = parseYaml(file, text, limits);
  } catch (err) {
    if (err instanceof SourceError) return void errors.push(err);
    throw err;
  }
  for (const doc of parsed.docs) {
    let value: unknown;
    try {
      value = toJs(parsed, doc, limits);
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
        errors.push(new SourceError(err.message.replace(`${err.path}: `, ''), here(splitPath(err.path)), err.path));
      }
    }
  }
}
