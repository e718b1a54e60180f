// A Babel plugin for the Espruino bundle: replaces the written-out message of every otaError(code, message, ...) call
// (a string, template or concatenation) with the code itself. Code size is memory on Espruino (about 100 variable
// blocks per KB even when run from Storage), and the messages are most of the core's text; the code, retryable flag
// and details stay, and docs/portability.md maps codes to explanations. OTA_ESPRUINO_MESSAGES=full keeps the messages.
//
// Two more steps keep the code from being written twice:
// - wrappers, functions whose whole body is `return otaError(code, message, ...)` with both taken from their own
//   parameters (the HTTP parser's parseError), are stripped at their call sites like otaError itself;
// - a call whose message ended up as a copy of its code literal calls a one-line companion instead, `X$c(code, ...)`
//   = `X(code, code, ...)`, inserted next to X, so each code string appears once per call.

/** Names of the error factory itself: esbuild may suffix a renamed binding with digits. */
const FACTORY = /^otaError\d*$/;

/**
 * A message that is written out here (so it may go), as opposed to one passed through from elsewhere.
 * @param {import('@babel/core').types.Node} message
 * @param {import('@babel/core').types.Node} code
 */
function isWritten(message, code) {
  return message.type === 'TemplateLiteral' || message.type === 'BinaryExpression' ||
    (message.type === 'StringLiteral' && !(code.type === 'StringLiteral' && message.value === code.value));
}

/**
 * A code expression that may be evaluated twice: a literal, a name, or a member chain of names and literals.
 * @param {import('@babel/core').types.Node} node
 * @returns {boolean}
 */
function isPlain(node) {
  if (node.type === 'StringLiteral' || node.type === 'NumericLiteral' || node.type === 'Identifier') return true;
  if (node.type === 'MemberExpression') return isPlain(node.object) && (!node.computed ? node.property.type === 'Identifier' : isPlain(node.property));
  return false;
}

/**
 * @param {{ types: import('@babel/core').types }} babel
 * @returns {import('@babel/core').PluginObj}
 */
export function stripErrorMessages(babel) {
  const t = babel.types;
  /** @type {Map<string, { params: number, path: import('@babel/core').NodePath }>} functions taking (code, message, ...) */
  let factories = new Map();
  /** @type {Set<string>} factories whose companion is in use */
  let companions = new Set();

  /** The factory a top-level function is, or null: otaError itself, or a wrapper returning otaError(p0, p1, ...). */
  function factoryOf(node) {
    if (node.id === null || node.id === undefined) return false;
    if (FACTORY.test(node.id.name)) return true;
    const params = node.params;
    const body = node.body.body;
    if (params.length < 2 || body.length !== 1 || body[0].type !== 'ReturnStatement' || params.some((p) => p.type !== 'Identifier')) return false;
    const call = body[0].argument;
    if (call === null || call.type !== 'CallExpression' || call.callee.type !== 'Identifier' || !FACTORY.test(call.callee.name)) return false;
    const args = call.arguments;
    return args.length >= 2 && args[0].type === 'Identifier' && args[0].name === params[0].name &&
      args[1].type === 'Identifier' && args[1].name === params[1].name;
  }

  return {
    name: 'ota-strip-error-messages',
    visitor: {
      Program: {
        enter(path) {
          factories = new Map();
          companions = new Set();
          for (const statement of path.get('body')) {
            if (statement.isFunctionDeclaration() && factoryOf(statement.node)) {
              factories.set(statement.node.id.name, { params: statement.node.params.length, path: statement });
            }
          }
        },
        exit() {
          for (const name of companions) {
            const factory = factories.get(name);
            // X$c(a, b, ...) { return X(a, a, b, ...); } with one parameter fewer than X.
            const params = [];
            for (let i = 0; i < factory.params - 1; i++) params.push(t.identifier('p' + i));
            const args = [t.identifier('p0'), t.identifier('p0'), ...params.slice(1)];
            const companion = t.functionDeclaration(t.identifier(name + '$c'), params,
              t.blockStatement([t.returnStatement(t.callExpression(t.identifier(name), args))]));
            factory.path.insertAfter(companion);
          }
        },
      },
      CallExpression(path) {
        const callee = path.node.callee;
        if (callee.type !== 'Identifier' || !factories.has(callee.name)) return;
        // A local shadowing the factory's name is not the factory.
        const binding = path.scope.getBinding(callee.name);
        if (binding === undefined || binding.path !== factories.get(callee.name).path) return;
        const args = path.node.arguments;
        if (args.length < 2 || !isPlain(args[0])) return;
        // Only written-out text goes; a message passed through (toOtaError's text of a thrown error) is the only
        // record of what failed, so it stays.
        if (isWritten(args[1], args[0])) args[1] = t.cloneNode(args[0]);
        if (args[0].type === 'StringLiteral' && args[1].type === 'StringLiteral' && args[1].value === args[0].value) {
          companions.add(callee.name);
          path.node.callee = t.identifier(callee.name + '$c');
          args.splice(1, 1);
        }
      },
    },
  };
}
