export default function Discharges() {
  return <p class="placeholder">This page is being built.</p>;
}
