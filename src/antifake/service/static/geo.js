// Optional, with consent: send a rounded position (about 10 km) with a scan.
(function () {
  var box = document.getElementById("locate");
  var form = document.getElementById("locate-form");
  if (!box || !form || !navigator.geolocation) return;
  box.hidden = false;
  form.addEventListener("submit", function (ev) {
    if (form.lat.value) return;
    ev.preventDefault();
    navigator.geolocation.getCurrentPosition(function (p) {
      form.lat.value = p.coords.latitude.toFixed(1);
      form.lon.value = p.coords.longitude.toFixed(1);
      form.submit();
    }, function () { box.hidden = true; }, {enableHighAccuracy: false, timeout: 10000});
  });
})();
