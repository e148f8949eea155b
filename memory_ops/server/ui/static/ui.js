// The memory browser's only script: small conveniences on top of forms that work without it.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Sign-in link of `agent-memory ui`: the key travels in the URL fragment (never sent to the server or logged);
  // it fills the key field and is removed from the address bar.
  const key = document.getElementById("key");
  if (key && location.hash.startsWith("#key=")) {
    key.value = decodeURIComponent(location.hash.slice(5));
    history.replaceState(null, "", location.pathname + location.search);
  }

  // Timeline: the slider moves the as_of date (minutes since the epoch, UTC) and shows that moment.
  const slider = document.getElementById("as_of_slider");
  const asOf = document.getElementById("as_of");
  if (slider && asOf) {
    const show = () => { asOf.value = new Date(Number(slider.value) * 60000).toISOString().slice(0, 16); };
    slider.addEventListener("input", show);
    slider.addEventListener("change", () => { show(); slider.form.submit(); });
  }

  // Forget: the button is enabled only once the user id has been typed exactly.
  const confirm = document.getElementById("confirm");
  const button = document.getElementById("forget-button");
  if (confirm && button) {
    const check = () => { button.disabled = confirm.value !== confirm.dataset.expect; };
    confirm.addEventListener("input", check);
    check();
  }
});
