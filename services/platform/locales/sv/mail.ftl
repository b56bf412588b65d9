mail-invitation-subject = Inbjudan till handledning på nätet från { $organization }
mail-invitation-body = { $organization } bjuder in dig till ett skyddat arbetsutrymme för handledning på nätet i Ohjaus. Godkänn inbjudan genom att öppna länken nedan och identifiera dig med Suomi.fi-identifikation (nätbankskoder, mobilcertifikat eller identitetskort). Länken fungerar till { $expires } och bara en gång.
mail-invitation-ignore = Om du inte väntade dig denna inbjudan kan du lämna meddelandet utan åtgärd. Detta e-postmeddelande innehåller inga personuppgifter.
mail-new-messages-subject = Du har nya meddelanden i Ohjaus
mail-new-messages-body = { $count ->
    [one] Du har ett nytt meddelande
   *[other] Du har { $count } nya meddelanden
} i arbetsutrymmet för handledning. Logga in för att läsa { $count ->
    [one] det
   *[other] dem
}.
mail-new-messages-privacy = För att skydda din integritet skickas meddelandena aldrig per e-post.
mail-link = Öppna Ohjaus
mail-consent-requested-subject = Ditt samtycke efterfrågas i Ohjaus
mail-consent-requested-body = Din handledare vill att en annan yrkesperson ska ansluta till ditt arbetsutrymme för handledning på nätet. Ingen ansluter utan ditt samtycke. Logga in för att se vem och varför, och för att godkänna eller avböja.
mail-consent-decided-subject = En begäran om samtycke har besvarats i Ohjaus
mail-consent-decided-body = En kund har besvarat, ändrat eller återkallat ett samtycke i ett arbetsutrymme som du äger. Logga in för att se beslutet.
mail-consent-privacy = Av integritetsskäl skickas namn och motiveringar aldrig per e-post.
mail-handed-over-subject = Ditt arbetsutrymme för handledning har fått en ny handledare
mail-handed-over-body = Ditt arbetsutrymme för handledning på nätet har överförts till en annan handledare i samma organisation, till exempel för att din tidigare handledare har slutat eller är borta. Din nya handledare kan läsa innehållet i arbetsutrymmet. Logga in för att se vem som nu är din handledare och vilka som har använt ditt arbetsutrymme.
mail-handed-over-privacy = Av integritetsskäl skickas namn aldrig per e-post.
mail-closing-subject = Ditt arbetsutrymme för handledning stängs snart
mail-closing-body = Ingen har loggat in i ditt arbetsutrymme för handledning på nätet på länge, så det stängs om { $days } dagar. Om du vill hålla det öppet, logga in och öppna arbetsutrymmet innan dess. Handledaren kan öppna ett stängt arbetsutrymme igen under en tid, och du kan fortfarande ladda ner dess innehåll.
mail-archiving-subject = Ditt stängda arbetsutrymme för handledning arkiveras snart
mail-archiving-body = Ditt stängda arbetsutrymme för handledning på nätet arkiveras om { $days } dagar. Därefter kan handledarna inte längre se det eller öppna det igen; du kan se det och ladda ner dess innehåll tills det raderas permanent.
mail-retention-privacy = Av integritetsskäl skickas inget innehåll från arbetsutrymmet per e-post.

## rounds (3X10D)
mail-round-asked-subject = Du har en enkät i Ohjaus
mail-round-asked-body = Din handledare ber dig svara på en kort enkät om din livssituation i ditt arbetsutrymme för handledning på nätet. Du kan svara när det passar dig, spara dina svar och fortsätta senare.
mail-round-asked-privacy = Av integritetsskäl skickas enkätens innehåll inte per e-post.
