// JSON re-indented as text, never read into JavaScript values: every token stays as it was sent. Through
// JSON.parse and JSON.stringify, 12345678901234567891 became 12345678901234567000, 1.0 became 1, "\u00e9" became
// "é", and of two equal keys one was dropped: the body shown was not the body sent.

const SPACE = new Set([" ", "\t", "\n", "\r"]);
// Indentation grows with depth on every line: 16 KiB of nested brackets ([[[…]]]) came out as 128 million
// characters, which froze the tab for 20 s, and 64 KiB (an answer the log keeps) was past what a string can hold,
// so the whole delivery could not be shown. A pretty form longer than this is not made: the body is shown raw.
const MAX_GROWTH = 8;
const MAX_EXTRA = 1024 * 1024;
const DELIMITERS = new Set([...SPACE, ",", ":", "[", "]", "{", "}", '"']);

// The text indented by two spaces a level, as JSON.stringify(value, null, 2) lays a value out; null when it is not
// JSON (JSON.parse is the judge of that: it accepts big numbers and duplicate keys, which is all this needs), and
// when it would be too long to show (see MAX_GROWTH).
export function prettyJson(text) {
  try {
    JSON.parse(text);
  } catch {
    return null;
  }
  const out = [];
  let depth = 0;
  let i = 0;
  let room = MAX_GROWTH * text.length + MAX_EXTRA; // what the line breaks and indentation may still add
  const newline = () => {
    room -= 2 * depth + 1;
    return "\n" + "  ".repeat(depth);
  };
  const skip = (j) => {
    while (SPACE.has(text[j])) j += 1;
    return j;
  };
  while (i < text.length) {
    const c = text[i];
    if (SPACE.has(c)) {
      i += 1;
    } else if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      out.push(text.slice(i, j + 1));
      i = j + 1;
    } else if (c === "{" || c === "[") {
      const close = c === "{" ? "}" : "]";
      const next = skip(i + 1);
      if (text[next] === close) {
        out.push(c + close); // empty: {} or [], as JSON.stringify writes it
        i = next + 1;
      } else {
        depth += 1;
        out.push(c + newline());
        i += 1;
      }
    } else if (c === "}" || c === "]") {
      depth -= 1;
      out.push(newline() + c);
      i += 1;
    } else if (c === ",") {
      out.push("," + newline());
      i += 1;
    } else if (c === ":") {
      out.push(": ");
      i += 1;
    } else {
      // A number, true, false or null: up to the next delimiter, as written.
      let j = i;
      while (j < text.length && !DELIMITERS.has(text[j])) j += 1;
      out.push(text.slice(i, j));
      i = j;
    }
    if (room < 0) return null;
  }
  return out.join("");
}
