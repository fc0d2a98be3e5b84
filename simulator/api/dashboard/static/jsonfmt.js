// JSON re-indented as text, never read into JavaScript values: every token stays as it was sent. Through
// JSON.parse and JSON.stringify, 12345678901234567891 became 12345678901234567000, 1.0 became 1, "\u00e9" became
// "é", and of two equal keys one was dropped: the body shown was not the body sent.

const SPACE = new Set([" ", "\t", "\n", "\r"]);
const DELIMITERS = new Set([...SPACE, ",", ":", "[", "]", "{", "}", '"']);

// The text indented by two spaces a level, as JSON.stringify(value, null, 2) lays a value out; null when it is not
// JSON (JSON.parse is the judge of that: it accepts big numbers and duplicate keys, which is all this needs).
export function prettyJson(text) {
  try {
    JSON.parse(text);
  } catch {
    return null;
  }
  const out = [];
  let depth = 0;
  let i = 0;
  const newline = () => "\n" + "  ".repeat(depth);
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
  }
  return out.join("");
}
