/**
 * The structural half of parsing: a compiled TypeBox check against schema.ts, with TypeBox's
 * errors turned into one readable issue per JSON path. Values of key fields are never echoed.
 */

import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { type ValueError, ValueErrorType } from '@sinclair/typebox/errors';
import type { ValidationIssue } from './errors.js';

/** Shows a value in a message: short, JSON-quoted, never a key-like field's content. */
export function quote(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (Number.isInteger(value)) return 'an integer';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function lastSegment(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function messageOf(error: ValueError): string {
  const schema = error.schema as TSchema & {
    title?: string;
    description?: string;
    minimum?: number;
    maximum?: number;
    maxItems?: number;
    minItems?: number;
    maxLength?: number;
    minLength?: number;
    const?: unknown;
  };
  const title = schema.title ?? lastSegment(error.path);
  switch (error.type) {
    case ValueErrorType.ObjectRequiredProperty:
      return `required field "${lastSegment(error.path)}" is missing`;
    case ValueErrorType.ObjectAdditionalProperties:
      return `unknown field "${lastSegment(error.path)}"`;
    case ValueErrorType.Object:
      return `expected an object, got ${describeType(error.value)}`;
    case ValueErrorType.Array:
      return `expected an array, got ${describeType(error.value)}`;
    case ValueErrorType.ArrayMinItems:
      return `too few entries (at least ${schema.minItems})`;
    case ValueErrorType.ArrayMaxItems:
      return `too many entries (at most ${schema.maxItems})`;
    case ValueErrorType.String:
      return `expected a string, got ${describeType(error.value)}`;
    case ValueErrorType.StringMinLength:
      return `${title} must not be empty`;
    case ValueErrorType.StringMaxLength:
      return `${title} is longer than ${schema.maxLength} characters`;
    case ValueErrorType.StringPattern: {
      const shown = /key/i.test(title) ? '' : ` ${quote(error.value)}`;
      return `malformed ${title}${shown}: expected ${schema.description ?? `to match ${schema['pattern']}`}`;
    }
    case ValueErrorType.Boolean:
      return `expected true or false, got ${describeType(error.value)}`;
    case ValueErrorType.Integer:
    case ValueErrorType.Number:
      return `expected an integer, got ${typeof error.value === 'number' ? error.value : describeType(error.value)}`;
    case ValueErrorType.IntegerMinimum:
    case ValueErrorType.IntegerMaximum:
      return schema.maximum === undefined
        ? `${error.value} is below the minimum ${schema.minimum}`
        : `${error.value} is outside ${schema.minimum}-${schema.maximum}`;
    case ValueErrorType.Literal:
      return `unsupported value ${quote(error.value)}: expected ${quote(schema.const)}`;
    default:
      return error.message;
  }
}

/** A compiled structural check: `check` is fast, `issues` explains a failure. */
export class StructuralCheck<T extends TSchema> {
  readonly #compiled: TypeCheck<T>;

  constructor(schema: T) {
    this.#compiled = TypeCompiler.Compile(schema);
  }

  check(value: unknown): value is Static<T> {
    return this.#compiled.Check(value);
  }

  /** One issue per JSON path (TypeBox may report a path twice; the first reason is the precise one). */
  issues(value: unknown): ValidationIssue[] {
    const seen = new Set<string>();
    const issues: ValidationIssue[] = [];
    for (const error of this.#compiled.Errors(value)) {
      if (seen.has(error.path)) continue;
      seen.add(error.path);
      issues.push({ path: error.path, message: messageOf(error) });
    }
    return issues;
  }
}
