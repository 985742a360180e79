export default function Pattern() {
  return <p class="placeholder">This page is being built.</p>;
}
