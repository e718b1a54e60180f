// Rejects regex literals that Espruino 2v29's regex engine cannot run (checked on its Linux build): the `?` and
// `{n,m}` quantifiers, groups with `(?`, quantified groups like `(ab)+`, lazy quantifiers, an unescaped `/` inside a
// character class, `\uXXXX` escapes (read as the letter u: /[\u0080-\uffff]/ matches "0-9A-Za-u"), and a `^` in the
// first of several alternatives (it anchors them all: /^\s+|\s+$/ never strips a trailing space). Classes, \d \s \w,
// \xHH, `.`, `*`, `+`, `|`, groups, anchors and flags work.

/** True when a `^` in the first top-level alternative of `pattern` would anchor the others too (Espruino 2v29). */
export function anchorsEveryAlternative(pattern) {
  let depth = 0;
  let inClass = false;
  let caret = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') { i++; continue; }
    if (inClass) { if (c === ']') inClass = false; continue; }
    if (c === '[') inClass = true;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '^') caret = true;
    else if (c === '|' && depth === 0) return caret;
  }
  return false;
}

/** The first construct of `pattern` Espruino cannot run, or null. */
export function unsupportedRegexPart(pattern) {
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      if (pattern[i + 1] === 'u') return 'a "\\u" escape (use \\xHH, or test char codes)';
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      else if (c === '/') return 'an unescaped "/" inside a character class';
      continue;
    }
    if (c === '[') inClass = true;
    else if (c === '?') return pattern[i - 1] === '(' ? 'a "(?" group' : 'the "?" quantifier';
    else if (c === '{') return 'a "{n,m}" quantifier';
    else if (c === ')' && (pattern[i + 1] === '*' || pattern[i + 1] === '+')) return 'a quantified group';
  }
  if (anchorsEveryAlternative(pattern)) return 'a "^" in the first of several alternatives (it anchors them all; use .trim(), or put the group after ^)';
  return null;
}

/** ESLint rule object. */
export const espruinoRegexRule = {
  meta: { type: 'problem', schema: [] },
  create(context) {
    function check(node, pattern) {
      const part = unsupportedRegexPart(pattern);
      if (part) context.report({ node, message: `Espruino 2v29's regex engine cannot run ${part}; test the characters by hand (see src/util/text.ts).` });
    }
    return {
      Literal(node) { if (node.regex) check(node, node.regex.pattern); },
      'NewExpression[callee.name="RegExp"]'(node) {
        const first = node.arguments[0];
        if (first && first.type === 'Literal' && typeof first.value === 'string') check(node, first.value);
      },
    };
  },
};
