// Stripe's Payment Element on the card page: Stripe.js collects the card; on success Stripe sends the visitor to
// the return URL. Errors are shown in the page's alert region, never only in the console.
(function () {
  "use strict";
  var form = document.getElementById("card-form");
  if (!form) { return; }
  var message = document.getElementById("card-message");
  var button = document.getElementById("card-submit");
  if (!window.Stripe) {
    message.textContent = "The card form could not load. Please try again, or pay another way.";
    button.disabled = true;
    return;
  }
  var stripe = window.Stripe(form.dataset.publishableKey);
  var elements = stripe.elements({ clientSecret: form.dataset.clientSecret });
  document.getElementById("payment-element").textContent = "";
  elements.create("payment").mount("#payment-element");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    button.disabled = true;
    message.textContent = "";
    stripe.confirmPayment({ elements: elements, confirmParams: { return_url: form.dataset.returnUrl } })
      .then(function (result) {
        if (result.error) {
          message.textContent = result.error.message;
          button.disabled = false;
        }
      });
  });
})();
