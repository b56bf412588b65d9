# The public contact form (a page of ours, embedded on an organisation's website) and its receipt.
forms-required = required
forms-optional = optional
forms-send = Send
forms-error-summary = There is a problem
forms-error-prefix = Error:
forms-privacy = How { $organization } handles your data (privacy notice)
forms-from = A form of { $organization }
forms-choose = Choose one
forms-honeypot = Leave this field empty
forms-proof-working = Checking that this is sent by a person. This takes a few seconds and needs nothing from you.
forms-proof-ready = Check done: you can send the form.
forms-proof-noscript = This form's spam protection needs JavaScript. If you cannot use it, contact { $organization } by other means listed on its website.
forms-field-required = Fill in this field.
forms-field-too-long = The text is too long: at most { $max } characters.
forms-field-invalid-email = Enter an email address such as name@example.fi.
forms-field-invalid-choice = Choose one of the options.
forms-field-consent-required = You must agree to this to send the form.
forms-refused-too-fast = The form was sent too quickly after it opened. Check your answers and send it again.
forms-refused-proof = The spam check did not succeed. Reload the page and send the form again.
forms-refused-rate = Too many questions have been sent from here in a short time. Wait a few minutes and try again.
forms-refused-too-large = The answers are too long. Shorten them and send again.
forms-receipt-title = Thank you, your question was sent
forms-receipt-body = { $organization } received your question. Its advisors answer questions in the order they arrive.
forms-receipt-email = You will get the answer by email, if you gave an address.
forms-receipt-no-email = You gave no email address, so no answer can be sent to you. You may contact { $organization } directly.
forms-receipt-again = Send another question
forms-not-found-title = Form not available
forms-not-found-body = This form does not exist or is not in use at the moment.
forms-link-fallback = Open the contact form
forms-mail-receipt-subject = Your question to { $organization } was received
forms-mail-receipt-body = Hello,

    { $organization } received the question you sent through its contact form. The answer will come to this address.

    This message was sent automatically; do not reply to it.
forms-mail-reply-subject = Answer to your question to { $organization }
forms-mail-new-subject = New questions in the contact-form queue
forms-mail-new-body = Hello,

    New questions have arrived through { $organization }'s contact forms. Log in to Ohjaus to read them: { $link }
