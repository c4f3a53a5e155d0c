// SPDX-License-Identifier: MIT
// Reads the levels of a /api/v1/flamegraph answer (or a diff's) back into
// paths, for the tests that check what the server sent.
//
// walkLevels(fb, diff, nameOf, visit): for every node, parents first,
// calls visit(path, arr, o, stride) where arr[o .. o + stride) is the
// node's entry in its level and path is 'total' for the root, otherwise
// the names (nameOf(name index)) from the root's child down joined by ';'.
export function walkLevels(fb, diff, nameOf, visit) {
  const stride = diff ? 6 : 4;
  let prev = [];
  fb.levels.forEach((arr, d) => {
    const cur = [];
    let end = 0, pi = 0;
    for (let o = 0; o < arr.length; o += stride) {
      const x = end + arr[o];
      const w = diff ? arr[o + 1] + arr[o + 3] : arr[o + 1];
      const name = nameOf(arr[o + stride - 1]);
      while (pi < prev.length - 1 && prev[pi].x + prev[pi].w <= x) pi++;
      const path = d === 0 ? 'total' : prev[pi].path === 'total' ? name : prev[pi].path + ';' + name;
      cur.push({ x, w, path });
      visit(path, arr, o, stride);
      end = x + w;
    }
    prev = cur;
  });
}
