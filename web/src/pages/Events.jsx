export default function Events() {
  return <p class="placeholder">This page is being built.</p>;
}
