// A Babel plugin for the Espruino bundle: replaces the written-out message of every otaError(code, message, ...) call
// (a string, template or concatenation) with the code itself. Code size is memory on Espruino (about 100 variable blocks per KB even when run from Storage), and the
// messages are most of the core's text; the code, retryable flag and details stay, and docs/portability.md maps
// codes to explanations. OTA_ESPRUINO_MESSAGES=full keeps the messages.

/**
 * @param {{ types: import('@babel/core').types }} babel
 * @returns {import('@babel/core').PluginObj}
 */
export function stripErrorMessages(babel) {
  const t = babel.types;
  return {
    name: 'ota-strip-error-messages',
    visitor: {
      CallExpression(path) {
        const callee = path.node.callee;
        if (callee.type !== 'Identifier' || !/^otaError\d*$/.test(callee.name)) return;
        const args = path.node.arguments;
        if (args.length < 2 || args[0].type !== 'StringLiteral') return;
        const message = args[1];
        // Only written-out text goes; a message passed through (toOtaError's text of a thrown error) is the only
        // record of what failed, so it stays.
        const written = message.type === 'TemplateLiteral' || message.type === 'BinaryExpression' ||
          (message.type === 'StringLiteral' && message.value !== args[0].value);
        if (written) args[1] = t.stringLiteral(args[0].value);
      },
    },
  };
}
