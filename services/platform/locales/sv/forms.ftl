# Det offentliga kontaktformuläret (vår sida, inbäddad på en organisations webbplats) och dess kvitto.
forms-required = obligatorisk
forms-optional = frivillig
forms-send = Skicka
forms-error-summary = Det finns ett fel i formuläret
forms-error-prefix = Fel:
forms-privacy = Hur { $organization } behandlar dina uppgifter (dataskyddsbeskrivning)
forms-from = Formuläret upprätthålls av: { $organization }
forms-choose = Välj ett alternativ
forms-honeypot = Lämna det här fältet tomt
forms-proof-working = Vi kontrollerar att formuläret skickas av en människa. Det tar några sekunder och kräver ingenting av dig.
forms-proof-ready = Kontrollen är klar: du kan skicka formuläret.
forms-proof-noscript = Formulärets skräppostskydd behöver JavaScript. Om du inte kan använda det, kontakta { $organization } på andra sätt som anges på webbplatsen.
forms-field-required = Fyll i det här fältet.
forms-field-too-long = Texten är för lång: högst { $max } tecken.
forms-field-invalid-email = Ange en e-postadress, till exempel namn@exempel.fi.
forms-field-invalid-choice = Välj ett av alternativen.
forms-field-consent-required = Du måste godkänna detta för att skicka formuläret.
forms-refused-too-fast = Formuläret skickades för snabbt efter att det öppnats. Kontrollera dina svar och skicka det igen.
forms-refused-proof = Skräppostkontrollen lyckades inte. Ladda om sidan och skicka formuläret igen.
forms-refused-rate = För många frågor har skickats härifrån på kort tid. Vänta några minuter och försök igen.
forms-refused-too-large = Svaren är för långa. Förkorta dem och skicka igen.
forms-receipt-title = Tack, din fråga har skickats
forms-receipt-body = { $organization } har tagit emot din fråga. Rådgivarna besvarar frågorna i den ordning de kommer in.
forms-receipt-email = Du får svaret per e-post, om du angav en adress.
forms-receipt-no-email = Du angav ingen e-postadress, så inget svar kan skickas till dig. Du kan kontakta { $organization } direkt.
forms-receipt-again = Skicka en ny fråga
forms-not-found-title = Formuläret är inte tillgängligt
forms-not-found-body = Formuläret finns inte eller används inte för tillfället.
forms-link-fallback = Öppna kontaktformuläret
forms-mail-receipt-subject = Din fråga till { $organization } har tagits emot
forms-mail-receipt-body = Hej,

    { $organization } har tagit emot frågan du skickade via kontaktformuläret. Svaret kommer till den här adressen.

    Meddelandet skickades automatiskt; svara inte på det.
forms-mail-reply-subject = Svar på din fråga till { $organization }
forms-mail-new-subject = Nya frågor i kontaktformulärens kö
forms-mail-new-body = Hej,

    Nya frågor har kommit in via organisationens { $organization } kontaktformulär. Logga in i Ohjaus för att läsa dem: { $link }
