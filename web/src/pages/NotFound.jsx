export default function NotFound() {
  return (
    <div class="page">
      <h1 class="page-title">Page not found</h1>
      <p>
        There is no page at {location.pathname}. <a href="/">Go to the overview</a>.
      </p>
    </div>
  );
}
