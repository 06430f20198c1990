// Pre-render the TeX that smalldocs leaves as \(...\) and \[...\] into KaTeX HTML, in place.
// Usage: node katex_render.js KATEX_DIR file.html...   (code blocks <pre>/<code> are left alone)
const fs = require('fs');
const katex = require(require('path').resolve(process.argv[2], 'dist', 'katex.js'));
const unescape = s => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&#x27;/g, "'").replace(/&amp;/g, '&');
let total = 0, errors = 0;
for (const f of process.argv.slice(3)) {
  const html = fs.readFileSync(f, 'utf8');
  // split off code so TeX-looking text inside code is untouched
  const parts = html.split(/(<pre[\s\S]*?<\/pre>|<code[\s\S]*?<\/code>|<script[\s\S]*?<\/script>)/);
  for (let i = 0; i < parts.length; i += 2) {
    parts[i] = parts[i].replace(/\\\[([\s\S]+?)\\\]|\\\(([\s\S]+?)\\\)/g, (m, disp, inl) => {
      total++;
      try { return katex.renderToString(unescape(disp !== undefined ? disp : inl), {displayMode: disp !== undefined, throwOnError: true, output: 'html'}); }
      catch (e) { errors++; console.error(`${f}: ${e.message}`); return m; }
    });
  }
  fs.writeFileSync(f, parts.join(''));
}
console.log(`katex: rendered ${total - errors} formulas, ${errors} errors`);
process.exit(errors ? 1 : 0);
